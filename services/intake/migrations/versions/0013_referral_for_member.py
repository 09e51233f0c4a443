"""A referral may be for a household member (issue 19, class 2): the intake's read model of
referrals keeps the member's index in the person's household (learnt from referral events;
earlier referrals are the person's).

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.add_column(sa.Column("for_member", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("intake_referrals") as batch:
        batch.drop_column("for_member")
