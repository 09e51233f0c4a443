"""The sandbox Wohnungsamt is a FIT-Connect destination: it keeps its key pair; the
registration office books an appointment with each request; a case keeps the reason and
outcome of its latest status (read by Lotse from partners without webhooks).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sandbox_cases") as batch:
        batch.add_column(sa.Column("appointment", sa.JSON()))
        batch.add_column(sa.Column("reason", sa.Text()))
        batch.add_column(sa.Column("outcome", sa.String(40)))
    op.create_table(
        "sandbox_keys",
        sa.Column("partner", sa.String(40), primary_key=True),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("private_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_keys")
    with op.batch_alter_table("sandbox_cases") as batch:
        batch.drop_column("outcome")
        batch.drop_column("reason")
        batch.drop_column("appointment")
