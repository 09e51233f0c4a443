"""Partner systems count the reminders they receive.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_cases") as batch:
        batch.add_column(sa.Column("reminder_keys", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_cases") as batch:
        batch.drop_column("reminder_keys")
