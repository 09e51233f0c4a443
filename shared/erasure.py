"""Erasure (Art. 17) building blocks every service uses: tombstones, a guard, outbox scrubbing.

Lotse erases by scrubbing, not by crypto-shredding: every service deletes the rows about the
person when the `person.erasure_requested` event reaches it, including the stored copies of
events in its outbox (event bodies carry names and birth dates). What stays is a tombstone
of ids only (person, intake, referral), so an event about the person that arrives later (in
flight, retried, replayed from the dead letters) is dropped instead of recreating data.
Scrubbing keeps every store readable with plain SQL and needs no key management; the price is
that each store must be found and scrubbed, which the erasure test checks table by table.
"""
from __future__ import annotations

import functools
from dataclasses import replace
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import (Column, MetaData, PrimaryKeyConstraint, Select, String, Table,
                        bindparam, delete, or_, select, tuple_)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.bus.topology import Subscription
from shared.db import UTCDateTime
from shared.events.envelope import Envelope
from shared.uow import UnitOfWorkLike

ERASURE_EVENTS = ("person.erasure_requested", "person.erased")
SUBJECT_KEYS = {"person_id": "person", "intake_id": "intake", "referral_id": "referral"}


def erased_table(metadata: MetaData, service: str) -> Table:
    """Tombstones: which persons, intakes and referrals were erased (ids, never data)."""
    name = f"{service}_erased"
    return Table(
        name, metadata,
        Column("kind", String(10), nullable=False),  # person | intake | referral
        Column("subject_id", String(36), nullable=False),
        Column("request_id", String(36), nullable=False),
        Column("erased_at", UTCDateTime, nullable=False),
        PrimaryKeyConstraint("kind", "subject_id", name=f"pk_{name}"),
    )


def subjects_of(data: dict[str, Any]) -> dict[str, list[str]]:
    """The ids an erasure event names, by kind."""
    return {"person": [str(i) for i in data.get("person_ids") or [data["person_id"]]],
            "intake": [str(i) for i in data.get("intake_ids", ())],
            "referral": [str(i) for i in data.get("referral_ids", ())]}


def add_tombstones(session: Session, table: Table, request_id: str,
                   subjects: dict[str, Iterable[str]], now: datetime) -> None:
    known = {(r.kind, r.subject_id) for r in session.execute(
        select(table.c.kind, table.c.subject_id).where(table.c.subject_id.in_(all_ids(subjects))))}
    for kind, ids in subjects.items():
        for subject_id in dict.fromkeys(str(i) for i in ids):
            if (kind, subject_id) not in known:
                session.execute(table.insert().values(kind=kind, subject_id=subject_id,
                                                      request_id=request_id, erased_at=now))


def ids_in(data: Any, subject: str = "") -> list[tuple[str, str]]:
    """(kind, id) pairs an event is about: its subject and any person/intake/referral id."""
    found = []
    if "/" in subject:
        kind, _, subject_id = subject.partition("/")
        if kind in SUBJECT_KEYS.values():
            found.append((kind, subject_id))
    if isinstance(data, dict):
        for key, value in data.items():
            if key in SUBJECT_KEYS and value:
                found.append((SUBJECT_KEYS[key], str(value)))
            elif isinstance(value, (dict, list)):
                found += ids_in(value)
    elif isinstance(data, list):
        for item in data:
            found += ids_in(item)
    return found


def is_erased(session: Session, table: Table, pairs: Sequence[tuple[str, str]]) -> bool:
    if not pairs:
        return False
    return session.execute(_any_of(table), {"pairs": list(pairs)}).first() is not None


@functools.cache
def _any_of(table: Table) -> Select[Any]:
    """Built once: asked for every event a subscriber receives, a statement built anew each
    time would cost SQLAlchemy more than the database's own work."""
    return select(table.c.subject_id).where(tuple_(table.c.kind, table.c.subject_id).in_(
        bindparam("pairs", expanding=True))).limit(1)


def concerns_erased(session: Session, table: Table, envelope: Envelope) -> bool:
    if envelope.type in ERASURE_EVENTS:
        return False
    return is_erased(session, table, ids_in(envelope.data, envelope.subject))


def erased_among(session: Session, table: Table, envelopes: Sequence[Envelope]) -> set[str]:
    """The ids of the events (of a batch) that concern an erased person, intake or referral:
    one query for all of them."""
    pairs = {e.id: ids_in(e.data, e.subject) for e in envelopes
             if e.type not in ERASURE_EVENTS}
    wanted = list({p for ps in pairs.values() for p in ps})
    if not wanted:
        return set()
    found = {(r.kind, r.subject_id) for r in session.execute(_which_of(table),
                                                             {"pairs": wanted})}
    if not found:
        return set()
    return {event_id for event_id, ps in pairs.items() if found.intersection(ps)}


@functools.cache
def _which_of(table: Table) -> Select[Any]:
    return select(table.c.kind, table.c.subject_id).where(
        tuple_(table.c.kind, table.c.subject_id).in_(bindparam("pairs", expanding=True)))


def guarded(subscriptions: Sequence[Subscription], table: Table) -> tuple[Subscription, ...]:
    """The same subscriptions, each dropping (acking without effect) events about erased
    persons, intakes or referrals: the delivery checks the tombstones (one query per batch,
    shared/bus/delivery.py) before the handler runs."""
    return tuple(replace(s, tombstones=table) for s in subscriptions)


def scrub_outbox(session: Session, outbox: Table, ids: Iterable[str]) -> int:
    """Delete the stored events (sent or pending) that mention any of the ids, except the
    erasure events themselves (ids only): a confirmation not yet relayed must still leave."""
    ids = [str(i) for i in ids if i]
    if not ids:
        return 0
    # on the session's connection: a Core DML result, which has the rowcount
    result = session.connection().execute(delete(outbox).where(
        outbox.c.event_type.not_in(ERASURE_EVENTS),
        or_(*[outbox.c.body.contains(i, autoescape=True) for i in ids])))
    return result.rowcount or 0


def all_ids(subjects: dict[str, Iterable[str]]) -> list[str]:
    return list(dict.fromkeys(str(i) for ids in subjects.values() for i in ids))


def confirm(uow: UnitOfWorkLike, erasure: dict[str, Any], service: str, now: datetime,
            **extra: Any) -> None:
    """Answer an erasure request: this service holds nothing more about the person."""
    uow.emit("person.erased", subject=f"person/{erasure['person_id']}", data={
        "request_id": erasure["request_id"], "person_id": erasure["person_id"],
        "service": service, "erased_at": now, **extra})


def truncate_wal(engine: Engine) -> None:
    """SQLite keeps the page images of deleted rows in its write-ahead log until the next
    checkpoint; after an erasure, checkpoint and truncate it so no copy stays on disk (the
    main file's freed pages are already zeroed by `secure_delete`, see shared/db.py)."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
    try:
        cursor = raw.cursor()
        busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        cursor.close()
    finally:
        raw.close()
    if busy:
        raise RuntimeError("write-ahead log busy: not truncated")
