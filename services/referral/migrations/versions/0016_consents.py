"""The person's consents as they stand (given, withdrawn), read by every sharing decision.

Filled only with the consents that unfinished referrals rely on: withdrawing a consent
cancels every unfinished referral relying on it, so those still stand (a withdrawal still
on its way is applied when it arrives). Any other consent a referral recorded may have been
withdrawn since without a trace here: it is left out, so a later path needing it waits for
a consent (on hold, or a staff action refused) instead of trusting it.

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

import shared.db

ENDED = ("rejected", "cancelled", "failed", "completed")  # as the domain's TERMINAL then

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
                         sa.column("status"))
    bind = op.get_bind()
    rows = bind.execute(sa.select(referrals.c.consent_id, referrals.c.person_id)
                        .where(referrals.c.consent_id.isnot(None),
                               referrals.c.status.notin_(sorted(ENDED)))).all()
    standing = {row.consent_id: dict(consent_id=row.consent_id, person_id=row.person_id,
                                     partner=None, withdrawn_at=None) for row in rows}
    partners = _partners_of(bind, set(standing))
    for consent_id, row in standing.items():
        row["partner"] = partners.get(consent_id)
    if standing:
        op.bulk_insert(consents, list(standing.values()))


def _partners_of(bind, consent_ids: set[str]) -> dict[str, str | None]:
    """Which partner each consent names (None: the coarse one), from the referrals' copies."""
    referrals = sa.table("referrals", sa.column("share", sa.JSON()))
    found: dict[str, str | None] = {}
    for row in bind.execute(sa.select(referrals.c.share).where(referrals.c.share.isnot(None))):
        for consent in (row.share or {}).get("consents", ()):
            if str(consent["consent_id"]) in consent_ids:
                found[str(consent["consent_id"])] = consent.get("partner")
    return found


def downgrade() -> None:
    op.drop_index("ix_referral_consents_person_id", "referral_consents")
    op.drop_table("referral_consents")
