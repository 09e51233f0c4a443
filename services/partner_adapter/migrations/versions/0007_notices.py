"""Consent-withdrawal and erasure notices to partners that received data, and the consents
withdrawn (a case relying on one is never delivered afterwards).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_notices",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("referral_id", sa.String(36), nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("partner_case_ref", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("occurred_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("idempotency_key", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", shared.db.UTCDateTime()),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", shared.db.UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_partner_notices"),
        sa.UniqueConstraint("idempotency_key", name="uq_partner_notices_idempotency_key"),
        sa.UniqueConstraint("case_id", "kind", name="uq_partner_notices_case_kind"),
    )
    op.create_index("ix_partner_notices_referral_id", "partner_notices", ["referral_id"])
    op.create_index("ix_partner_notices_due", "partner_notices", ["status", "next_attempt_at"])
    op.create_table(
        "withdrawn_consents",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("withdrawn_at", shared.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", shared.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consent_id", name="pk_withdrawn_consents"),
    )


def downgrade() -> None:
    op.drop_table("withdrawn_consents")
    op.drop_index("ix_partner_notices_due", table_name="partner_notices")
    op.drop_index("ix_partner_notices_referral_id", table_name="partner_notices")
    op.drop_table("partner_notices")
