"""Erasure requests (Art. 17): the request and each service's confirmation (ids only), and
the tombstones that make the intake service drop later events about an erased person.

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
        "erasure_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("person_id", sa.String(36), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("completed_at", shared.db.UTCDateTime(), nullable=True),
    )
    op.create_index("ix_erasure_requests_person_id", "erasure_requests", ["person_id"],
                    unique=True)
    op.create_table(
        "erasure_confirmations",
        sa.Column("request_id", sa.String(36), sa.ForeignKey("erasure_requests.id"),
                  primary_key=True),
        sa.Column("service", sa.String(40), primary_key=True),
        sa.Column("confirmed_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("partners_notified", sa.JSON(), nullable=True),
    )
    op.create_index("ix_erasure_confirmations_request", "erasure_confirmations", ["request_id"])
    op.create_table(
        "intake_erased",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("erased_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject_id", name="pk_intake_erased"),
    )


def downgrade() -> None:
    op.drop_table("intake_erased")
    op.drop_index("ix_erasure_confirmations_request", table_name="erasure_confirmations")
    op.drop_table("erasure_confirmations")
    op.drop_index("ix_erasure_requests_person_id", table_name="erasure_requests")
    op.drop_table("erasure_requests")
