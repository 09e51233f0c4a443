"""Erasure of a person (GDPR Art. 17), as the intake service sees it.

Intake holds the person, so it starts an erasure: it deletes everything it keeps about the
person (and the duplicates merged into them), scrubs its stored events, keeps tombstones of
the ids and a request record without personal data, and publishes `person.erasure_requested`
in the same transaction. Referral, partner adapter, the operator console and reporting erase
their own copies and answer with `person.erased`; the request is complete when all of them
confirmed.
See docs/consent-and-erasure.md for why Lotse scrubs instead of crypto-shredding.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.intake import tables as t
from services.intake.idempotency import forget_intakes
from services.intake.tables import erased, erasure_confirmations, erasure_requests
from shared.erasure import add_tombstones, all_ids, scrub_outbox
from shared.events.envelope import Envelope

# The services that must confirm an erasure before it counts as done. A request keeps the
# list it was sent with; one opened before requests kept it waits for the services of its time.
CONFIRMING_SERVICES = ("intake", "referral", "partner_adapter", "ops", "reporting")
CONFIRMING_BEFORE_REPORTING = ("intake", "referral", "partner_adapter", "ops")


class AlreadyErased(Exception):
    """The person's data was erased before; there is nothing left to erase."""


@dataclass(frozen=True)
class ErasureRequest:
    id: str
    person_id: str
    subjects: dict
    requested_by: str
    reason: str
    requested_at: datetime
    completed_at: datetime | None
    confirmations: dict  # service -> {"confirmed_at": ..., "partners_notified": [...]}
    confirming: tuple[str, ...] = CONFIRMING_SERVICES

    @property
    def pending(self) -> list[str]:
        return [s for s in self.confirming if s not in self.confirmations]

    @property
    def partners_notified(self) -> list[str]:
        return (self.confirmations.get("partner_adapter") or {}).get("partners_notified") or []


def erase_person(uow, person_id: str, *, requested_by: str, reason: str,
                 now: datetime) -> ErasureRequest:
    """Erase the person everywhere: opens and commits its own unit of work.

    LookupError: no such person. AlreadyErased: erased before (a second request is refused).
    Two erasures of the same person at once: the second waits for the person's row lock and
    then finds the person gone; the unique person_id of the requests refuses it in any case."""
    try:
        return _erase(uow, str(person_id), requested_by, reason, now)
    except IntegrityError as exc:  # a concurrent erasure of the same person committed first
        raise AlreadyErased(str(person_id)) from exc


def _erase(uow, person_id: str, requested_by: str, reason: str,
           now: datetime) -> ErasureRequest:
    with uow:
        session = uow.session
        living = _living_person_id(session, person_id)
        if living is None:
            if request_for(session, person_id) is not None:
                raise AlreadyErased(person_id)
            raise LookupError(f"no person {person_id}")
        subjects = _subjects(session, living)
        inbound = _inbound_referrals(session, subjects)
        request_id = str(uuid.uuid4())
        session.execute(erasure_requests.insert().values(
            id=request_id, person_id=living, subjects=subjects, requested_by=requested_by,
            reason=reason, requested_at=now, confirming=list(CONFIRMING_SERVICES)))
        _delete_person_data(session, subjects)
        session.execute(delete(t.inbound_referrals).where(t.inbound_referrals.c.id.in_(inbound)))
        scrub_outbox(session, t.outbox, all_ids(subjects) + inbound)
        add_tombstones(session, erased, request_id, subjects, now)
        session.execute(erasure_confirmations.insert().values(
            request_id=request_id, service="intake", confirmed_at=now, partners_notified=[]))
        uow.emit("person.erasure_requested", subject=f"person/{living}", data={
            "request_id": request_id, "person_id": living,
            "person_ids": subjects["person"], "intake_ids": subjects["intake"],
            "referral_ids": subjects["referral"], "requested_at": now})
        request = request_for(session, request_id)
        uow.commit()
    return request


def _living_person_id(session: Session, person_id: str) -> str | None:
    """The record a merged duplicate forwards to: erasing either erases the one human.
    Each row read is locked until the erasure commits (FOR UPDATE; SQLite locks the whole
    database at BEGIN anyway)."""
    seen = set()
    while person_id not in seen:
        seen.add(person_id)
        row = session.execute(select(t.persons.c.merged_into)
                              .where(t.persons.c.id == person_id).with_for_update()).first()
        if row is None:
            return None
        if not row.merged_into:
            return person_id
        person_id = row.merged_into
    return person_id


def _subjects(session: Session, living: str) -> dict[str, list[str]]:
    persons = [living]
    frontier = [living]
    while frontier:  # duplicates merged into the person, and their own merged duplicates
        merged = [r.id for r in session.execute(select(t.persons.c.id).where(
            t.persons.c.merged_into.in_(frontier)))]
        frontier = [p for p in merged if p not in persons]
        persons += frontier
    intakes = [r.id for r in session.execute(select(t.intakes.c.id).where(
        t.intakes.c.person_id.in_(persons)).order_by(t.intakes.c.recorded_at))]
    consent_intakes = [r.intake_id for r in session.execute(select(t.consents.c.intake_id).where(
        t.consents.c.person_id.in_(persons), t.consents.c.intake_id.is_not(None)))]
    intakes += [i for i in dict.fromkeys(consent_intakes) if i not in intakes]
    referrals = [r.referral_id for r in session.execute(
        select(t.intake_referrals.c.referral_id).where(t.intake_referrals.c.intake_id.in_(intakes))
        .order_by(t.intake_referrals.c.referral_id))]
    return {"person": persons, "intake": intakes, "referral": referrals}


def _inbound_referrals(session: Session, subjects: dict[str, list[str]]) -> list[str]:
    """Partners' referrals to the centre that led to the person (linked when they arrived):
    erased with the person, their status events scrubbed from the outbox. (One never linked
    names nobody Lotse knows as a person; it goes by the retention schedule.)"""
    r = t.inbound_referrals
    return [row.id for row in session.execute(select(r.c.id).where(or_(
        r.c.person_id.in_(subjects["person"]), r.c.intake_id.in_(subjects["intake"]))))]


def _delete_person_data(session: Session, subjects: dict[str, list[str]]) -> None:
    persons, intakes = subjects["person"], subjects["intake"]
    for table in (t.person_names, t.person_search_keys, t.household_members):
        session.execute(delete(table).where(table.c.person_id.in_(persons)))
    session.execute(delete(t.consents).where(or_(t.consents.c.person_id.in_(persons),
                                                 t.consents.c.intake_id.in_(intakes))))
    session.execute(delete(t.intake_referrals).where(t.intake_referrals.c.intake_id.in_(intakes)))
    # a walk-in ticket served with the intake stays (no name on it) but loses the link to it
    # (`called_by` is a staff member's name, not the person's: it stays)
    session.execute(update(t.queue_tickets).where(t.queue_tickets.c.intake_id.in_(intakes))
                    .values(intake_id=None))
    forget_intakes(session, intakes)  # idempotency keys: no way back to the person
    session.execute(delete(t.intakes).where(t.intakes.c.id.in_(intakes)))
    m = t.person_merges
    session.execute(delete(m).where(or_(m.c.survivor_id.in_(persons), m.c.merged_id.in_(persons))))
    # merged duplicates point at the survivor (foreign key order does not matter: no FK)
    session.execute(update(t.persons).where(t.persons.c.id.in_(persons)).values(merged_into=None))
    session.execute(delete(t.persons).where(t.persons.c.id.in_(persons)))


# --- confirmations and status ----------------------------------------------------------------

def record_confirmation(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erased`: a service confirmed; the request completes with the
    last one."""
    d, session = envelope.data, uow.session
    request_id = str(d["request_id"])
    if session.execute(select(erasure_requests.c.id)
                       .where(erasure_requests.c.id == request_id)).first() is None:
        return  # not ours (another network's request replayed here): nothing to record
    c = erasure_confirmations
    exists = session.execute(select(c.c.service).where(
        c.c.request_id == request_id, c.c.service == d["service"])).first()
    if exists is None:
        session.execute(c.insert().values(
            request_id=request_id, service=d["service"],
            confirmed_at=datetime.fromisoformat(d["erased_at"]),
            partners_notified=list(d.get("partners_notified") or [])))
    request = request_for(session, request_id)
    if not request.pending and request.completed_at is None:
        session.execute(update(erasure_requests).where(erasure_requests.c.id == request_id)
                        .values(completed_at=uow.clock()))


def request_for(session: Session, request_or_person_id: str) -> ErasureRequest | None:
    """An erasure request by its id or by the erased person's id (any merged duplicate)."""
    r = erasure_requests
    key = str(request_or_person_id)
    row = session.execute(select(r).where(r.c.id == key)).first()
    if row is None:
        tomb = session.execute(select(erased.c.request_id).where(
            erased.c.kind == "person", erased.c.subject_id == key)).first()
        if tomb is None:
            return None
        row = session.execute(select(r).where(r.c.id == tomb.request_id)).first()
    confirmations = {
        c.service: {"confirmed_at": c.confirmed_at,
                    "partners_notified": list(c.partners_notified or [])}
        for c in session.execute(select(erasure_confirmations)
                                 .where(erasure_confirmations.c.request_id == row.id))}
    return ErasureRequest(row.id, row.person_id, row.subjects, row.requested_by, row.reason,
                          row.requested_at, row.completed_at, confirmations,
                          tuple(row.confirming or CONFIRMING_BEFORE_REPORTING))


def list_requests(session: Session, limit: int = 100) -> list[ErasureRequest]:
    ids = [r.id for r in session.execute(select(erasure_requests.c.id)
                                         .order_by(erasure_requests.c.requested_at.desc())
                                         .limit(limit))]
    return [request_for(session, i) for i in ids]
