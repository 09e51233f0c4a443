"""The appointment the partner booked for the referral, shown to staff and passed on with
referral.status_changed.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("appointment", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("appointment")
