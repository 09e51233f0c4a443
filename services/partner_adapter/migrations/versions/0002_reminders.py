"""Reminders to partners about referrals whose deadline is near.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.add_column(sa.Column("reminder_due_at", shared.db.UTCDateTime()))
        batch.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("last_reminder_at", shared.db.UTCDateTime()))


def downgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        for column in ("last_reminder_at", "reminders_sent", "reminder_due_at"):
            batch.drop_column(column)
