"""The per-person access log: who viewed or changed a person's record, when, how and where.

Entries hold ids and actions only, never the data seen (so the log itself can be shown to
the person under Art. 15 and kept longer than the record). The intake service writes its
own pages' and API answers' accesses directly; the referral service and the partner portal
report theirs as `personal_data.accessed` events. An entry names whichever of person,
intake and referral id its service knew; the missing ones are filled in from the intake's
own tables where possible, and the per-person query also follows intakes and referrals, so
an access reported before the intake heard of the referral still reaches its person.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from services.intake.tables import (access_log, erased, inbound_referrals, intake_referrals,
                                    intakes, persons)
from shared.auth import Principal
from shared.erasure import ids_in
from shared.events.contracts import ACCESS_ACTIONS
from shared.events.envelope import Envelope

CHANNELS = ("ui", "api")


_INSERT = access_log.insert()  # built once: a recorded intake writes its entry with it


@dataclass(frozen=True)
class Access:
    actor: str
    role: str
    partner: str | None
    service: str
    channel: str
    action: str
    at: datetime
    person_id: str | None = None
    intake_id: str | None = None
    referral_id: str | None = None
    inbound_referral_id: str | None = None  # a partner's referral to the centre

    def __post_init__(self) -> None:
        if self.action not in ACCESS_ACTIONS or self.channel not in CHANNELS:
            raise ValueError(f"unknown access {self.action!r} through {self.channel!r}")
        if not (self.person_id or self.intake_id or self.referral_id
                or self.inbound_referral_id):
            raise ValueError("an access names a person, intake or referral")


def record(session: Session, accesses: Iterable[Access], event_id: str | None = None) -> int:
    """Add entries inside the caller's transaction, with the ids the intake can resolve."""
    rows = [{**vars(_resolved(session, a)), "event_id": event_id} for a in accesses]
    if rows:
        session.execute(_INSERT, rows)
    return len(rows)


def _resolved(session: Session, a: Access) -> Access:
    intake_id, person_id = a.intake_id, a.person_id
    if a.inbound_referral_id and not person_id:  # once the person arrived, theirs
        person_id = session.execute(select(inbound_referrals.c.person_id).where(
            inbound_referrals.c.id == a.inbound_referral_id)).scalar()
    if a.referral_id and not intake_id:
        intake_id = session.execute(select(intake_referrals.c.intake_id).where(
            intake_referrals.c.referral_id == a.referral_id)).scalar()
    if intake_id and not person_id:
        person_id = session.execute(select(intakes.c.person_id).where(
            intakes.c.id == intake_id)).scalar()
    if (intake_id, person_id) == (a.intake_id, a.person_id):
        return a
    return replace(a, intake_id=intake_id, person_id=person_id)


@dataclass(frozen=True)
class Accessor:
    """Who uses the intake service's own pages or API, and through which: what the entries
    one request makes have in common."""

    principal: Principal
    channel: str

    def access(self, action: str, at: datetime, **ids: str) -> Access:
        p = self.principal
        return Access(p.username, p.role, p.partner, "intake", self.channel, action, at, **ids)

    def entries(self, action: str, at: datetime, *, person_ids: Iterable = (),
                intake_ids: Iterable = (), referral_ids: Iterable = (),
                inbound_referral_ids: Iterable = ()) -> list[Access]:
        """One entry per record named."""
        return ([self.access(action, at, person_id=str(p)) for p in dict.fromkeys(person_ids) if p]
                + [self.access(action, at, intake_id=str(i))
                   for i in dict.fromkeys(intake_ids) if i]
                + [self.access(action, at, referral_id=str(r))
                   for r in dict.fromkeys(referral_ids) if r]
                + [self.access(action, at, inbound_referral_id=str(r))
                   for r in dict.fromkeys(inbound_referral_ids) if r])


def note(session_factory, principal, action: str, channel: str, now: datetime, *,
         person_ids: Iterable = (), intake_ids: Iterable = (), referral_ids: Iterable = (),
         inbound_referral_ids: Iterable = ()) -> int:
    """The intake service's own pages and API: one entry per record, committed at once. (A
    recorded intake writes its entry in its own transaction instead: handlers.py.)"""
    entries = Accessor(principal, channel).entries(action, now, person_ids=person_ids,
                                                   intake_ids=intake_ids,
                                                   referral_ids=referral_ids,
                                                   inbound_referral_ids=inbound_referral_ids)
    if not entries:
        return 0
    with session_factory() as session:
        count = record(session, entries)
        session.commit()
    return count


def remembered(logged: list[str], shown: Iterable[str], keep: int) -> list[str]:
    """The ids a session has logged, `shown` added last, bounded to the newest `keep`."""
    shown = [str(i) for i in shown]
    merged = [i for i in logged if i not in shown] + list(dict.fromkeys(shown))
    return merged[-keep:]


def record_reported_access(envelope: Envelope, uow) -> None:
    """Consumer: file an access another service reported (personal_data.accessed).

    Not guarded as a whole: one event lists up to 500 records of many people, so only the
    records naming an erased person, intake or referral are dropped, not their neighbours."""
    d = envelope.data
    gone = _erased_among(uow.session, [pair for r in d["records"] for pair in ids_in(r)])
    records = [r for r in d["records"] if not gone.intersection(ids_in(r))]
    record(uow.session, [
        Access(d["actor"], d["role"], d.get("partner"), d["service"], d["channel"],
               d["action"], envelope_time(d["at"]), person_id=r.get("person_id"),
               intake_id=r.get("intake_id"), referral_id=r.get("referral_id"))
        for r in records], event_id=envelope.id)


def _erased_among(session: Session, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (kind, id) pairs that have a tombstone, in one query."""
    if not pairs:
        return set()
    found = session.execute(select(erased.c.kind, erased.c.subject_id).where(
        erased.c.subject_id.in_({subject_id for _, subject_id in pairs})))
    return {(r.kind, r.subject_id) for r in found} & set(pairs)


def envelope_time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def entries_for(session: Session, person_id: str, limit: int = 500) -> list[dict]:
    """The person's log, newest first: entries naming the person, a duplicate merged into
    them, one of their intakes, one of those intakes' referrals or an inbound referral that
    led to them."""
    person_ids = [person_id] + list(session.execute(
        select(persons.c.id).where(persons.c.merged_into == person_id)).scalars())
    intake_ids = list(session.execute(
        select(intakes.c.id).where(intakes.c.person_id.in_(person_ids))).scalars())
    referral_ids = list(session.execute(select(intake_referrals.c.referral_id).where(
        intake_referrals.c.intake_id.in_(intake_ids))).scalars()) if intake_ids else []
    inbound_ids = list(session.execute(select(inbound_referrals.c.id).where(
        inbound_referrals.c.person_id.in_(person_ids))).scalars())
    t = access_log
    query = select(t).where(or_(t.c.person_id.in_(person_ids), t.c.intake_id.in_(intake_ids),
                                t.c.referral_id.in_(referral_ids),
                                t.c.inbound_referral_id.in_(inbound_ids)))
    rows = session.execute(query.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)).all()
    return [{k: v for k, v in r._mapping.items() if k != "event_id"} for r in rows]


def person_exists(session: Session, person_id: str) -> bool:
    return session.execute(select(persons.c.id).where(
        persons.c.id == person_id)).first() is not None
