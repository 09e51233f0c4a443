"""Erasure tombstones in the referral service: the ids (person, intake, referral) of erased
persons, so a later event about one is dropped instead of recreating data.

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_erased",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("erased_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_referral_erased"),
    )


def downgrade() -> None:
    op.drop_table("referral_erased")
