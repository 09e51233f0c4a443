"""Coded outcome of a completed referral and free-text notes next to coded reasons.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("outcome", sa.String(40)))
        batch.add_column(sa.Column("note", sa.Text()))
    with op.batch_alter_table("referral_history") as batch:
        batch.add_column(sa.Column("note", sa.Text()))
        batch.add_column(sa.Column("outcome", sa.String(40)))


def downgrade() -> None:
    with op.batch_alter_table("referral_history") as batch:
        batch.drop_column("outcome")
        batch.drop_column("note")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("note")
        batch.drop_column("outcome")
