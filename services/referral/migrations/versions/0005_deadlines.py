"""Deadlines: per partner service in working days; due times stored on each referral.

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

# Acknowledge within a few working days; registering must happen within 2 weeks (§ 17 BMG).
POLICIES = [
    dict(partner="registration", service="buergerdienste", ack_days=2, completion_days=10,
         expire_days=10, remind_days_before=1),
    dict(partner="registration", service="buergerdienste_international", ack_days=2,
         completion_days=10, expire_days=10, remind_days_before=1),
    dict(partner="jobcenter", service="sgb2", ack_days=3, completion_days=20, expire_days=None,
         remind_days_before=1),
    dict(partner="welfare", service="mbe", ack_days=5, completion_days=30, expire_days=None,
         remind_days_before=1),
    dict(partner="welfare", service="jmd", ack_days=5, completion_days=30, expire_days=None,
         remind_days_before=1),
]


def upgrade() -> None:
    policies = op.create_table(
        "deadline_policies",
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("service", sa.String(60), nullable=False),
        sa.Column("ack_days", sa.Integer(), nullable=False),
        sa.Column("completion_days", sa.Integer(), nullable=False),
        sa.Column("expire_days", sa.Integer()),
        sa.Column("remind_days_before", sa.Integer(), nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("partner", "service", name="pk_deadline_policies"),
    )
    op.bulk_insert(policies, POLICIES)
    with op.batch_alter_table("referrals") as batch:
        for column in ("ack_due_at", "complete_due_at", "expires_at", "reminded_at",
                       "overdue_since"):
            batch.add_column(sa.Column(column, shared.db.UTCDateTime()))
        batch.create_index("ix_referrals_due", ["status", "ack_due_at", "complete_due_at"])


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_index("ix_referrals_due")
        for column in ("overdue_since", "reminded_at", "expires_at", "complete_due_at",
                       "ack_due_at"):
            batch.drop_column(column)
    op.drop_table("deadline_policies")
