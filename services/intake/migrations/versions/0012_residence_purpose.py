"""The purpose of residence (shared.reference.RESIDENCE_PURPOSES) on each intake: benefits law
asks it (§ 7 Abs. 1 Satz 2 SGB II: job-seeking alone, or not working in the first three
months, excludes SGB II). Intakes recorded before have none (not recorded).

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
    with op.batch_alter_table("intakes") as batch:
        batch.add_column(sa.Column("residence_purpose", sa.String(30)))


def downgrade() -> None:
    with op.batch_alter_table("intakes") as batch:
        batch.drop_column("residence_purpose")
