"""Notices the stand-in partner systems received (consent withdrawn, erase the data).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_notices",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("case_reference", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("received_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_notices"),
        sa.UniqueConstraint("partner", "idempotency_key", name="uq_sandbox_notices_partner_key"),
    )
    op.create_index("ix_sandbox_notices_case_reference", "sandbox_notices", ["case_reference"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_notices_case_reference", table_name="sandbox_notices")
    op.drop_table("sandbox_notices")
