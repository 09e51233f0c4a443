"""The circuit breaker states of each case opener, for the operator console; and the flow
(correlation and causing event) a pending case continues when it is opened later.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_circuits",
        sa.Column("partner", sa.String(length=40), nullable=False),
        sa.Column("process", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", shared.db.UTCDateTime(), nullable=True),
        sa.Column("updated_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("partner", "process", name=op.f("pk_partner_circuits")))
    with op.batch_alter_table("partner_cases") as batch:
        batch.add_column(sa.Column("flow_correlation_id", sa.String(length=64)))
        batch.add_column(sa.Column("flow_causation_id", sa.String(length=64)))


def downgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.drop_column("flow_causation_id")
        batch.drop_column("flow_correlation_id")
    op.drop_table("partner_circuits")
