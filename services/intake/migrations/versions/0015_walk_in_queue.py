"""The walk-in queue (issue 22, item 1): tickets per site and day, no name; staff accounts
carry the languages they consult in besides German.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("languages", sa.JSON()))  # NULL: none besides German
    op.create_table(
        "queue_tickets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("site", sa.String(20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(3), nullable=False),
        sa.Column("topic", sa.String(60), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("drawn_at", sa.DateTime(), nullable=False),
        sa.Column("called_at", sa.DateTime()),
        sa.Column("called_by", sa.String(100)),
        sa.Column("closed_at", sa.DateTime()),
        sa.Column("interpreter_needed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("intake_id", sa.String(36)),
        sa.PrimaryKeyConstraint("id", name="pk_queue_tickets"),
        sa.UniqueConstraint("site", "day", "seq", name="uq_queue_tickets_site_day_seq"),
    )
    op.create_index("ix_queue_tickets_site_status", "queue_tickets", ["site", "status"])


def downgrade() -> None:
    op.drop_index("ix_queue_tickets_site_status", table_name="queue_tickets")
    op.drop_table("queue_tickets")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("languages")
