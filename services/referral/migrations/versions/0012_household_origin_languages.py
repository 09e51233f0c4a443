"""Rule conditions on nationality group, the languages a partner offers and the household.

A Kita referral needs a child under 7 in the household (§ 24 SGB VIII: until school starts).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.add_column(sa.Column("nationality_group", sa.String(10)))
        batch.add_column(sa.Column("languages", sa.JSON()))
        batch.add_column(sa.Column("child_under", sa.Integer()))
    op.execute(sa.text("UPDATE routing_rules SET child_under = 7 WHERE id = 'kita-portal'"))


def downgrade() -> None:
    with op.batch_alter_table("routing_rules") as batch:
        batch.drop_column("child_under")
        batch.drop_column("languages")
        batch.drop_column("nationality_group")
