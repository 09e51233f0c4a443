"""A referral may be for a household member (issue 19, class 2): a need names the member it
is for (a child's school place), or routing finds the one child it fits. The referral keeps
the member's index in its intake's household; its share already holds the household.

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("for_member", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("for_member")
