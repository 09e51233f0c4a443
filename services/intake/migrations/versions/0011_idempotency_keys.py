"""Idempotency keys of POST /api/v1/intakes: per user, the body's hash and the intake it
recorded, kept a day (retention category intake/idempotency_keys).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intake_idempotency_keys",
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("body_hash", sa.String(64)),
        sa.Column("intake_id", sa.String(36)),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("username", "key", name="pk_intake_idempotency_keys"),
    )
    op.create_index("ix_intake_idempotency_keys_intake_id", "intake_idempotency_keys",
                    ["intake_id"])
    op.create_index("ix_intake_idempotency_keys_created_at", "intake_idempotency_keys",
                    ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_intake_idempotency_keys_created_at", table_name="intake_idempotency_keys")
    op.drop_index("ix_intake_idempotency_keys_intake_id", table_name="intake_idempotency_keys")
    op.drop_table("intake_idempotency_keys")
