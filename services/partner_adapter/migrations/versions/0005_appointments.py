"""The appointment a partner booked with the case (the registration office: the person must
appear in person), passed on with partner_case.opened; and when to read the status of a case
at a partner that has no webhooks (polling).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.add_column(sa.Column("appointment", sa.JSON()))
        batch.add_column(sa.Column("next_poll_at", shared.db.UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.drop_column("next_poll_at")
        batch.drop_column("appointment")
