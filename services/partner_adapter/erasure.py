"""Erasure (Art. 17) in the partner adapter: tell the partners, then forget the person.

Every partner that received the person's data gets an erasure notice (Art. 17(2), 19),
queued BEFORE the cases are scrubbed, because the notice is addressed by the case. A case
row stays, emptied to ids, partner, status and case reference: the portal partners read
their notice on it, and a partner answering later still finds it (its answer is then
dropped by the referral service's tombstone). Disclosures keep whom which fields were sent
to and when (accountability), but not the payload's hash, which could confirm a guess.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, or_, select, update

from services.partner_adapter import notices
from services.partner_adapter import tables as t
from services.partner_adapter.domain import without_person
from services.partner_adapter.tables import erased
from shared.erasure import add_tombstones, all_ids, confirm, scrub_outbox, subjects_of
from shared.events.envelope import Envelope

REASON = "art17_erasure"
ERASED_HASH = "erased"


def erase_person(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erasure_requested`: notices, scrub, tombstones, confirmation."""
    d, now = envelope.data, uow.clock()
    subjects = subjects_of(d)
    partners = erase_cases(uow, d["request_id"], subjects, requested_at=_at(d["requested_at"]),
                           now=now)
    confirm(uow, d, "partner_adapter", now, partners_notified=partners)


def erase_late_referrals(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erased` from the referral service: referrals the intake service
    had not heard of when the erasure began are erased here too (notices included)."""
    d = envelope.data
    if d["service"] != "referral" or not d.get("referral_ids"):
        return
    subjects = {"person": [str(d["person_id"])], "intake": [],
                "referral": [str(i) for i in d["referral_ids"]]}
    erase_cases(uow, d["request_id"], subjects, requested_at=_at(d["erased_at"]),
                now=uow.clock())


def erase_cases(uow, request_id: str, subjects: dict[str, list[str]], *,
                requested_at: datetime, now: datetime) -> list[str]:
    """Queue erasure notices for the cases of these referrals, then scrub them; returns the
    partners notified (sorted)."""
    session, c = uow.session, t.partner_cases
    # a case's request may name the intake (allow-list permitting): catch those too
    mentions = [cast(c.c.request, String).contains(i, autoescape=True)
                for i in subjects["intake"] + subjects["person"]]
    rows = session.execute(select(c.c.id, c.c.referral_id).where(or_(
        c.c.referral_id.in_(subjects["referral"]), *mentions))).all()
    referral_ids = list(dict.fromkeys(subjects["referral"] + [r.referral_id for r in rows]))
    case_ids = [r.id for r in rows]
    notices.queue_notices(uow, kind="erasure", referral_ids=referral_ids, reason=REASON,
                          now=requested_at)
    partners = sorted({n.partner for n in notices.notices_for(
        session, referral_ids=referral_ids) if n.kind == "erasure"})
    if case_ids:
        for row in session.execute(select(c.c.id, c.c.referral_id, c.c.status, c.c.request,
                                          c.c.answer_lost, c.c.partner_case_ref,
                                          c.c.next_attempt_at)
                                   .where(c.c.id.in_(case_ids))).all():
            # an attempt whose answer was lost may have reached the partner: the case stays
            # pending, scrubbed, and the case loop asks the partner before deciding
            look_up = (row.status in ("pending", "failed") and row.answer_lost
                       and row.partner_case_ref is None)
            status = "pending" if look_up else (
                "cancelled" if row.status == "pending" else row.status)
            session.execute(update(c).where(c.c.id == row.id).values(
                request=without_person({**row.request, "referral_id": str(row.referral_id)},
                                       erased=True),
                status=status, next_attempt_at=now if look_up else row.next_attempt_at,
                appointment=None, last_error=None, reminder_due_at=None, cancel_due_at=None,
                next_poll_at=None, lease_until=None, updated_at=now))
        session.execute(update(t.disclosures).where(t.disclosures.c.case_id.in_(case_ids))
                        .values(payload_sha256=ERASED_HASH))
    subjects = {**subjects, "referral": referral_ids}
    scrub_outbox(session, t.outbox, all_ids(subjects) + case_ids)
    add_tombstones(session, erased, request_id, subjects, now)
    return partners


def erased_referral_at(session, referral_id: str) -> datetime | None:
    """When the referral's person was erased here (its tombstone), or None."""
    return session.execute(select(erased.c.erased_at).where(
        erased.c.kind == "referral", erased.c.subject_id == str(referral_id))).scalar()


def _at(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
