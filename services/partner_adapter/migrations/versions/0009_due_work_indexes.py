"""Indexes for the case loop's other due work: reminders, cancellations and status reads of
open cases. Without them each claim reads every open case's row, in every round of the loop.

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

INDEXES = {"ix_partner_cases_reminder_due": "reminder_due_at",
           "ix_partner_cases_cancel_due": "cancel_due_at",
           "ix_partner_cases_poll_due": "next_poll_at"}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, "partner_cases", ["status", column])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="partner_cases")
