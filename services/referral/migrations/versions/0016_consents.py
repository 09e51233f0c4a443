"""The person's consents as they stand (given, withdrawn), read by every sharing decision;
filled from the consents the referrals already carry, a consent counted withdrawn where a
referral was cancelled for its withdrawal.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    consents = op.create_table(
        "referral_consents",
        sa.Column("consent_id", sa.String(36), nullable=False),
        sa.Column("person_id", sa.String(36)),
        sa.Column("partner", sa.String(40)),
        sa.Column("withdrawn_at", shared.db.UTCDateTime()),
        sa.PrimaryKeyConstraint("consent_id", name="pk_referral_consents"),
    )
    op.create_index("ix_referral_consents_person_id", "referral_consents", ["person_id"])
    referrals = sa.table("referrals", sa.column("person_id"), sa.column("consent_id"),
                         sa.column("share", sa.JSON()), sa.column("reason"),
                         sa.column("updated_at", shared.db.UTCDateTime()))
    bind = op.get_bind()
    withdrawn = {row.consent_id: row.updated_at for row in bind.execute(
        sa.select(referrals.c.consent_id, referrals.c.updated_at)
        .where(referrals.c.reason == "consent_withdrawn", referrals.c.consent_id.isnot(None)))}
    known: dict[str, dict] = {}
    for row in bind.execute(sa.select(referrals.c.person_id, referrals.c.share)
                            .where(referrals.c.share.isnot(None))):
        for consent in (row.share or {}).get("consents", ()):
            cid = str(consent["consent_id"])
            known.setdefault(cid, dict(consent_id=cid, person_id=row.person_id,
                                       partner=consent.get("partner"),
                                       withdrawn_at=withdrawn.get(cid)))
    if known:
        op.bulk_insert(consents, list(known.values()))


def downgrade() -> None:
    op.drop_index("ix_referral_consents_person_id", "referral_consents")
    op.drop_table("referral_consents")
