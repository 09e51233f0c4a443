"""The booked appointment of a referral (registration office), shown on the person page.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.add_column(sa.Column("appointment", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.drop_column("appointment")
