"""The partner adapter told a partner that the consent was withdrawn or that the data must be
erased: the referral's history shows it, so staff see who was told what, when."""
from __future__ import annotations

from datetime import datetime

from services.referral import repository
from shared.events.envelope import Envelope


def record_partner_notice(envelope: Envelope, uow) -> None:
    d = envelope.data
    referral = repository.get(uow.session, str(d["referral_id"]), for_update=True,
                              history=False)
    if referral is None:  # erased here already (an erasure notice): nothing left to annotate
        return
    before = len(referral.history)
    referral.partner_notified(d["kind"], d["partner_case_ref"], by=f"partner:{d['partner']}",
                              at=datetime.fromisoformat(d["sent_at"]))
    repository.save(uow.session, referral, before)
