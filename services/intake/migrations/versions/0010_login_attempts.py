"""Login throttling: password logins per account name and client address (the account-wide
lockout columns of 0006 are no longer read).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(60), nullable=False),
        sa.Column("client", sa.String(45), nullable=False),
        sa.Column("at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_pair", "login_attempts", ["username", "client", "at"])
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_pair", table_name="login_attempts")
    op.drop_table("login_attempts")
