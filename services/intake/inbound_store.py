"""Inbound referrals on their table: receive, list, read, move on (invite, decline, not
reached, arrived). Each change opens one unit of work and commits once, its event
(inbound_referral.received or .status_changed) in the outbox with it; the rules are
inbound.py's. A move is a conditional UPDATE on the status read, so two staff moving the
same referral at once cannot both succeed: the second is refused as from the status now.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Callable

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session, sessionmaker

from services.intake.inbound import (ALLOWED, Appointment, AttestedConsent, InboundError,
                                     InboundReferral, InboundStatus, TransitionRefused,
                                     new_referral)
from services.intake.tables import inbound_referrals, intakes
from shared.uow import UnitOfWork

Sessions = sessionmaker[Session]
UnitsOfWork = Callable[[], UnitOfWork]
Clock = Callable[[], datetime]
LIST_LIMIT = 500
MOVE_ATTEMPTS = 3


class InboundNotFound(LookupError):
    pass


class ChangedMeanwhile(Exception):
    """The referral changed since the mover looked at it (move's `seen`)."""

    def __init__(self, status: InboundStatus):
        super().__init__(f"changed meanwhile; it is {status.value} now")
        self.status = status


def _referral(row: Row) -> InboundReferral:
    m = row._mapping
    return InboundReferral(
        m["id"], m["sender"], m["sent_by"], m["person"], m["residence_status"],
        tuple(m["needs"]), AttestedConsent(**m["consent"]), InboundStatus(m["status"]),
        m["created_at"], m["updated_at"], m["message"], Appointment.from_dict(m["appointment"]),
        m["decline_reason"], m["intake_id"], m["person_id"], m["changed_by"])


def _values(r: InboundReferral) -> dict:
    return dict(id=r.id, sender=r.sender, sent_by=r.sent_by, person=dict(r.person),
                residence_status=r.residence_status, needs=[dict(n) for n in r.needs],
                message=r.message, consent=vars(r.consent), status=r.status.value,
                appointment=r.appointment.as_dict() if r.appointment else None,
                decline_reason=r.decline_reason, intake_id=r.intake_id,
                person_id=r.person_id, changed_by=r.changed_by, created_at=r.created_at,
                updated_at=r.updated_at)


def receive(uows: UnitsOfWork, referral: InboundReferral) -> InboundReferral:
    with uows() as uow:
        uow.session.execute(inbound_referrals.insert().values(_values(referral)))
        uow.publish(referral.event())
        uow.commit()
    return referral


def listing(sessions: Sessions, *, status: InboundStatus | None = None,
            statuses: tuple[InboundStatus, ...] = (), sender: str | None = None,
            limit: int = LIST_LIMIT) -> list[InboundReferral]:
    """Newest first; only `sender`'s when given (a partner reads its own only)."""
    t = inbound_referrals
    query = select(t)
    wanted = (status,) if status else statuses
    if wanted:
        query = query.where(t.c.status.in_([s.value for s in wanted]))
    if sender is not None:
        query = query.where(t.c.sender == sender)
    with sessions() as s:
        rows = s.execute(query.order_by(t.c.created_at.desc(), t.c.id).limit(limit)).all()
    return [_referral(r) for r in rows]


def get(sessions: Sessions, referral_id: str) -> InboundReferral:
    with sessions() as s:
        return _get(s, referral_id)


def _get(s: Session, referral_id: str) -> InboundReferral:
    row = s.execute(select(inbound_referrals).where(
        inbound_referrals.c.id == referral_id)).first()
    if row is None:
        raise InboundNotFound(referral_id)
    return _referral(row)


def move(uows: UnitsOfWork, now: Clock, referral_id: str, status: InboundStatus, by: str,
         seen: str | None = None, **details) -> InboundReferral:
    """Move the referral on (inbound.InboundReferral.moved_to); for `arrived`, `intake_id`
    must name a recorded intake, whose person the referral is linked to. Moved meanwhile by
    someone else: decided again from its status then, unless the mover names the state it
    saw (`seen`, InboundReferral.state_seen): then ChangedMeanwhile, so a clerk's
    invitation does not silently replace the one a colleague just sent."""
    for _ in range(MOVE_ATTEMPTS):
        with uows() as uow:
            s = uow.session
            current = _get(s, referral_id)
            if seen is not None and current.state_seen != seen:
                raise ChangedMeanwhile(current.status)
            if status not in ALLOWED[current.status]:  # before looking at the details
                raise TransitionRefused(current.status, status)
            if status is InboundStatus.ARRIVED and details.get("intake_id"):
                details["person_id"] = _person_of_intake(s, details["intake_id"])
            moved = current.moved_to(status, now(), by, **details)
            t = inbound_referrals
            done = s.execute(t.update().where(
                t.c.id == current.id, t.c.status == current.status.value,
                t.c.updated_at == current.updated_at).values(
                    {k: v for k, v in _values(moved).items() if k != "id"}))
            if done.rowcount == 1:
                uow.publish(moved.event())
                uow.commit()
                return moved
            uow.rollback()
    raise InboundError("status", "changed by someone else meanwhile; try again")


def _person_of_intake(s: Session, intake_id: str) -> str:
    person_id = s.execute(select(intakes.c.person_id).where(
        intakes.c.id == str(intake_id))).scalar()
    if person_id is None:
        raise InboundError("intake_id", "no intake with this id")
    return person_id


def seed_demo(uows: UnitsOfWork, sessions: Sessions, now: Clock) -> int:
    """Two referrals from the registration office for the demo (`lotse seed-demo`), so the
    pages are not empty: one just received, one invited. Seeded once; 0 when there were."""
    with sessions() as s:
        if s.execute(select(inbound_referrals.c.id).where(
                inbound_referrals.c.sender == "registration").limit(1)).first():
            return 0
    at = now()
    consent = AttestedConsent("signed_form", "uk", "2026-01")
    olena = new_referral(
        "registration", "registration",
        {"given_name": "Olena", "family_name": "Bondarenko", "birth_date": "1990-05-21",
         "nationality": "UA", "languages": ["uk", "ru"], "interpreter": "none",
         "contact": {"phone": "+49 231 5550123", "no_fixed_address": False,
                     "address": {"street": "Münsterstraße 12", "postcode": "44145",
                                 "city": "Dortmund"}}},
        "TEMP_PROTECTION_24",
        ({"code": "orientation_counselling", "urgency": "normal"},
         {"code": "language_course", "urgency": "high"}), consent, at,
        "Angemeldet heute; fragt nach einem Sprachkurs am Abend.")
    samir = new_referral(
        "registration", "registration",
        {"given_name": "Samir", "family_name": "Haddad", "birth_date": "1984-11-02",
         "nationality": "SY", "languages": ["ar"], "interpreter": "on_site",
         "contact": {"phone": "+49 231 5550456", "no_fixed_address": False}},
        "REFUGEE_RECOGNISED", ({"code": "housing", "urgency": "high"},),
        AttestedConsent("signed_form", "ar", "2026-01"), at, None)
    receive(uows, olena)
    receive(uows, samir)
    move(uows, now, samir.id, InboundStatus.INVITED, "staff",
         appointment=Appointment((at + timedelta(days=3)).date(), time(10, 0), "centre"))
    return 2


def count_waiting(sessions: Sessions) -> int:
    """Referrals received and nobody invited yet (the intake list points staff to them)."""
    with sessions() as s:
        return s.execute(select(func.count()).select_from(inbound_referrals).where(
            inbound_referrals.c.status == InboundStatus.RECEIVED.value)).scalar_one()
