"""The intake's view of a referral shows when it became overdue.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.add_column(sa.Column("overdue_since", shared.db.UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.drop_column("overdue_since")
