"""Erasure in the operator console's stores: tombstones of erased persons' ids, and the
erasure requests waiting for a collection of the parking queues before they are confirmed.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ops_erased",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("erased_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_ops_erased"),
    )
    op.create_table(
        "ops_erasures",
        sa.Column("request_id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("causation_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", shared.db.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("ops_erasures")
    op.drop_table("ops_erased")
