"""Accountability and ambiguous answers: what each partner received (fields, hash, basis),
and whether an attempt may have reached the partner (look the case up before retrying).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_cases") as batch:
        batch.add_column(sa.Column("basis", sa.Text()))
        batch.add_column(sa.Column("answer_lost", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False),
        sa.Column("basis", sa.Text()),
        sa.Column("disclosed_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_disclosures"),
    )
    op.create_index("ix_disclosures_case_id", "disclosures", ["case_id"])
    op.create_index("ix_disclosures_referral_id", "disclosures", ["referral_id"])


def downgrade() -> None:
    op.drop_table("disclosures")
    with op.batch_alter_table("partner_cases") as batch:
        batch.drop_column("answer_lost")
        batch.drop_column("basis")
