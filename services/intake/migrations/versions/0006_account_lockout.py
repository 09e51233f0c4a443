"""Account lockout: wrong passwords in a row and until when the account is locked.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), server_default="0",
                                   nullable=False))
        batch.add_column(sa.Column("locked_until", shared.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
