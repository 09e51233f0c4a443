"""API token revocations (jti), read by every service: one token or session by its id, or
every one of a user up to revoked_at (jti NULL); kept until expires_at.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(64), nullable=True),
        sa.Column("username", sa.String(60), nullable=True),
        sa.Column("expires_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_by", sa.String(60), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_token_revocations"),
    )
    op.create_index("ix_token_revocations_jti", "token_revocations", ["jti"])
    op.create_index("ix_token_revocations_username", "token_revocations", ["username"])
    op.create_index("ix_token_revocations_revoked_at", "token_revocations", ["revoked_at"])


def downgrade() -> None:
    op.drop_index("ix_token_revocations_revoked_at", table_name="token_revocations")
    op.drop_index("ix_token_revocations_username", table_name="token_revocations")
    op.drop_index("ix_token_revocations_jti", table_name="token_revocations")
    op.drop_table("token_revocations")
