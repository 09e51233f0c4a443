"""Erasure tombstones in the partner adapter: the ids (person, intake, referral) of erased
persons, so a later event about one is dropped instead of recreating a case.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_adapter_erased",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("erased_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_partner_adapter_erased"),
    )


def downgrade() -> None:
    op.drop_table("partner_adapter_erased")
