"""Each referral records the rule and the version of the routing table that routed it.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("rule_id", sa.String(60)))
        batch.add_column(sa.Column("rules_version", sa.Integer()))


def downgrade() -> None:
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("rules_version")
        batch.drop_column("rule_id")
