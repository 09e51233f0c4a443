"""Telling partners that a referral was cancelled.

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
    with op.batch_alter_table("partner_cases") as batch:
        batch.add_column(sa.Column("cancel_due_at", shared.db.UTCDateTime()))
        batch.add_column(sa.Column("cancelled_at", shared.db.UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.drop_column("cancelled_at")
        batch.drop_column("cancel_due_at")
