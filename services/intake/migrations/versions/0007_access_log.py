"""The per-person access log (who viewed or changed a person's record): ids and actions only.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "person_access_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("partner", sa.String(40), nullable=True),
        sa.Column("service", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("person_id", sa.String(36), nullable=True),
        sa.Column("intake_id", sa.String(36), nullable=True),
        sa.Column("referral_id", sa.String(36), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_person_access_log"),
    )
    for column in ("person_id", "intake_id", "referral_id"):
        op.create_index(f"ix_person_access_log_{column}", "person_access_log", [column])
    op.create_index("ix_person_access_log_at", "person_access_log", ["at"])


def downgrade() -> None:
    for column in ("at", "referral_id", "intake_id", "person_id"):
        op.drop_index(f"ix_person_access_log_{column}", table_name="person_access_log")
    op.drop_table("person_access_log")
