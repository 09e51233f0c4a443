"""Erasure (Art. 17) in the operator console: the journal's payloads and the dead letters.

The journal keeps an erased person's events as metadata (type, ids, times: the flow stays
traceable) with the payload dropped; the referral projection's rows of the person's
referrals are deleted; dead letters about the person are deleted, each deletion audited.
A parked message may still sit in a parking queue when the request arrives, so the console
confirms only after its loop collected the parking queues once more (`settle`, called after
every collect): collection drops messages about erased persons (`about_erased`), and
`settle` scrubs once more what arrived in between (a journal batch committed meanwhile).
"""
from __future__ import annotations

import json
from datetime import datetime
import logging
from typing import Iterable, Sequence

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from services.ops import projection
from services.ops import tables as t
from services.ops.tables import erased, erasures
from shared.clock import Clock, utcnow
from shared.erasure import add_tombstones, all_ids, ids_in, is_erased, subjects_of, truncate_wal
from shared.events.envelope import Envelope, new_envelope
from shared.outbox import stage

ACTOR = "erasure"
COMPACT_SECONDS = 60.0  # how long after an erasure the logs are truncated on every round
log = logging.getLogger(__name__)


def erase_person(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erasure_requested`: scrub now, confirm after the next collect."""
    d, now = envelope.data, uow.clock()
    subjects = subjects_of(d)
    add_tombstones(uow.session, erased, d["request_id"], subjects, now)
    scrub(uow.session.connection(), subjects, d["request_id"], now)
    if uow.session.execute(select(erasures.c.request_id).where(
            erasures.c.request_id == str(d["request_id"]))).first() is None:
        uow.session.execute(erasures.insert().values(
            request_id=str(d["request_id"]), person_id=str(d["person_id"]), subjects=subjects,
            correlation_id=envelope.correlationid, causation_id=envelope.id,
            recorded_at=now))


def note_referrals(envelope: Envelope, uow) -> None:
    """Bus handler of `person.erased` from the referral service: referrals the intake service
    had not heard of are erased from the journal and the dead letters too."""
    d, now = envelope.data, uow.clock()
    if d["service"] != "referral" or not d.get("referral_ids"):
        return
    subjects = {"person": [], "intake": [], "referral": [str(i) for i in d["referral_ids"]]}
    add_tombstones(uow.session, erased, d["request_id"], subjects, now)
    scrub(uow.session.connection(), subjects, d["request_id"], now)


def scrub(conn: Connection, subjects: dict, request_id: str, now: datetime) -> int:
    """Drop the journal payloads, the referral projection's rows and the dead letters about
    these ids, blanking the details of the audit entries about them; returns how many dead
    letters went."""
    ids = all_ids(subjects)
    if not ids:
        return 0
    j = t.journal
    conn.execute(update(j).where(or_(
        j.c.intake_id.in_(ids), j.c.referral_id.in_(ids),
        *[j.c.subject.endswith(f"/{i}") for i in ids])).values(data={},
                                                               intake_reference=None))
    # ids and codes only, but an erased referral no longer counts anywhere (the referral
    # service deleted it too)
    projection.forget_referrals(conn, [str(i) for i in subjects.get("referral", ())])
    dl = t.dead_letters
    doomed = conn.execute(select(dl.c.id).where(or_(
        *[dl.c.body.contains(i, autoescape=True) for i in ids]))).all()
    targets = [f"dead_letter/{row.id}" for row in doomed]
    if targets:  # earlier entries about them may quote the message (a discard's free-text note)
        conn.execute(update(t.audit).where(t.audit.c.target.in_(targets)).values(detail=None))
    for target in targets:
        conn.execute(t.audit.insert().values(at=now, actor=ACTOR, action="erase",
                                             target=target,
                                             detail=f"erasure request {request_id}"))
    if doomed:
        conn.execute(delete(dl).where(dl.c.id.in_([r.id for r in doomed])))
    return len(doomed)


def about_erased(conn: Connection | Session, body: str) -> bool:
    """Is a parked message about an erased person? (Then it is not kept as a dead letter.)"""
    try:
        raw = json.loads(body)
    except ValueError:
        return False
    if not isinstance(raw, dict) or raw.get("type") in ("person.erasure_requested",
                                                        "person.erased"):
        return False
    return is_erased(conn, erased, ids_in(raw.get("data"), str(raw.get("subject") or "")))


def settle(engine: Engine, collected_since: datetime, clock: Clock = utcnow) -> int:
    """Confirm the erasures recorded before the collect that started at `collected_since`:
    scrub once more (a message collected meanwhile) and announce `person.erased`."""
    with engine.begin() as conn:
        waiting = conn.execute(select(erasures).where(
            erasures.c.confirmed_at.is_(None),
            erasures.c.recorded_at <= collected_since)).all()
        now = clock()
        for row in waiting:
            scrub(conn, row.subjects, row.request_id, now)
            envelope = new_envelope("person.erased", 1, "ops", f"person/{row.person_id}", {
                "request_id": row.request_id, "person_id": row.person_id, "service": "ops",
                "erased_at": now}, correlation_id=row.correlation_id,
                causation_id=row.causation_id)
            stage(conn, t.outbox, envelope, now)
            conn.execute(update(erasures).where(erasures.c.request_id == row.request_id)
                         .values(confirmed_at=now))
    return len(waiting)


def compact(engines: Iterable[Engine]) -> None:
    """After an erasure: no deleted copy stays in an SQLite write-ahead log (embedded mode:
    the bus store and every service database)."""
    for engine in dict.fromkeys(engines):
        try:
            truncate_wal(engine)
        except Exception:  # busy or down: the next loop tries again
            log.warning("could not truncate a write-ahead log after an erasure",
                        exc_info=True)


def pending(engine: Engine) -> Sequence:
    with engine.connect() as conn:
        return conn.execute(select(erasures).where(erasures.c.confirmed_at.is_(None))).all()
