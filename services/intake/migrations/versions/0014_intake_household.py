"""Each consultation keeps its household as it listed it (issue 19, class 2): a need names its
member by that order, and the person's household may change at a later consultation. Names
only of those a need may be for, as intake.recorded carries them; earlier consultations have
none (their referrals name a member by number).

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intakes") as batch:
        batch.add_column(sa.Column("household", sa.JSON()))


def downgrade() -> None:
    with op.batch_alter_table("intakes") as batch:
        batch.drop_column("household")
