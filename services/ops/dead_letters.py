"""Dead letters: collect parked messages, replay them into their queue, or discard them.

Every operator action is audited. A replay puts the message back into its own work queue
first and marks it replayed after: a crash in between leaves it parked and a second replay
is harmless, because the consumer's inbox turns an already processed event into a no-op.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from typing import Callable, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from services.ops import domain, erasure, tables
from shared.bus.causes import ParkCause, read_cause, reason_starts
from shared.bus.parking import ParkedMessage, ParkingLot
from shared.clock import Clock, utcnow

t = tables.dead_letters


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def service_of_queue(queue: str) -> str:
    """`lotse.referral.open_referrals` -> `referral`."""
    parts = queue.split(".")
    return parts[1] if len(parts) > 2 else queue


def store_parked(engine: Engine, clock: Clock = utcnow) -> Callable[[Sequence[ParkedMessage]],
                                                                     None]:
    """The parking lot's `store`: insert new dead letters, re-open replayed ones parked again."""
    def store(messages: Sequence[ParkedMessage]) -> None:
        now = clock()
        with engine.begin() as conn:
            for m in messages:
                if erasure.about_erased(conn, m.body):
                    continue  # the person's data was erased: no copy is kept
                row = conn.execute(select(t.c.id, t.c.status).where(
                    t.c.queue == m.queue, t.c.event_id == m.event_id)).first()
                values = dict(reason=m.reason[:4000], attempts=m.attempts, body=m.body,
                              event_type=m.event_type, status="parked", parked_at=now,
                              settled_at=None, settled_by=None, note=None)
                if row is None:
                    conn.execute(t.insert().values(queue=m.queue, event_id=m.event_id,
                                                   service=service_of_queue(m.queue),
                                                   times_parked=1, **values))
                elif row.status != "parked":  # replayed (or discarded) and parked once more
                    conn.execute(update(t).where(t.c.id == row.id).values(
                        times_parked=t.c.times_parked + 1, **values))
    return store


def collect(engine: Engine, lot: ParkingLot, clock: Clock = utcnow) -> int:
    return lot.collect(store_parked(engine, clock))


def selection_filter(selection: dict, status: str = "parked"):
    """Rows a selection names: explicit ids, or queue / event type / cause / reason text."""
    conds = [t.c.status == status]
    if selection.get("ids"):
        conds.append(t.c.id.in_([int(i) for i in selection["ids"]]))
    if selection.get("queue"):
        conds.append(t.c.queue == selection["queue"])
    if selection.get("service"):
        conds.append(t.c.service == selection["service"])
    if selection.get("event_type"):
        conds.append(t.c.event_type == selection["event_type"])
    if selection.get("cause"):
        conds.append(or_(*(t.c.reason.startswith(start, autoescape=True)
                           for start in reason_starts(ParkCause(selection["cause"])))))
    if selection.get("reason"):
        conds.append(t.c.reason.contains(selection["reason"], autoescape=True))
    return and_(*conds)


def listing(conn: Connection, selection: dict, limit: int = 200, status: str = "parked"):
    return conn.execute(select(t).where(selection_filter(selection, status))
                        .order_by(t.c.id).limit(limit)).all()


def counts(conn: Connection) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for queue, status, n in conn.execute(select(t.c.queue, t.c.status, func.count())
                                         .group_by(t.c.queue, t.c.status)):
        out.setdefault(queue, {})[status] = n
    return out


def view(row, *, may_see_personal_data: bool) -> dict:
    """A dead letter for the console: the payload masked unless the viewer may see it."""
    try:
        payload = json.loads(row.body)
    except ValueError:
        payload = row.body
    if not may_see_personal_data:
        payload = (domain.mask(payload) if isinstance(payload, (dict, list))
                   else domain.MASK)
    cause, detail = read_cause(row.reason)
    return {"id": row.id, "queue": row.queue, "service": row.service,
            "event_id": row.event_id, "event_type": row.event_type, "cause": cause.value,
            "reason": detail if may_see_personal_data else redact(detail),
            "attempts": row.attempts, "times_parked": row.times_parked, "status": row.status,
            "parked_at": row.parked_at.isoformat(),
            "settled_at": row.settled_at.isoformat() if row.settled_at else None,
            "settled_by": row.settled_by, "note": row.note, "payload": payload,
            "payload_masked": not may_see_personal_data}


_QUOTED = re.compile(r"""('[^']*'|"[^"]*")""")
_PARAMETERS = re.compile(r"\[parameters:.*?\](?=\s|$)|\[SQL:.*", re.S)


def redact(reason: str) -> str:
    """A reason without the values it quotes: exception texts can carry personal data
    (an invalid birth date, an SQL statement's parameters)."""
    return _QUOTED.sub(domain.MASK, _PARAMETERS.sub("[…]", reason))


# Ids are INTEGER columns (32 bits in PostgreSQL): a larger number names no dead letter, and
# asking the database for it would fail with an overflow instead of finding nothing.
LARGEST_ID = 2**31 - 1


def _find(conn: Connection, dead_letter_id: int):
    if not 0 <= dead_letter_id <= LARGEST_ID:
        return None
    return conn.execute(select(t).where(t.c.id == dead_letter_id)).first()


def read(engine: Engine, dead_letter_id: int, viewer: str, may_see_personal_data: bool,
         clock: Clock = utcnow) -> dict:
    """One dead letter for a viewer; an unmasked view is written to the audit trail."""
    with engine.begin() as conn:
        row = _find(conn, dead_letter_id)
        if row is None:
            raise NotFound(f"no dead letter {dead_letter_id}")
        if may_see_personal_data:
            audit(conn, viewer, "view_payload", f"dead_letter/{row.id}", None, clock())
    return view(row, may_see_personal_data=may_see_personal_data)


def audit(conn: Connection, actor: str, action: str, target: str, detail: str | None,
          now) -> None:
    conn.execute(tables.audit.insert().values(at=now, actor=actor[:80], action=action,
                                              target=target[:200], detail=detail))


def replay(engine: Engine, lot: ParkingLot, dead_letter_id: int, actor: str,
           clock: Clock = utcnow) -> dict:
    """Claim the dead letter (parked -> replaying: only one replay wins), put the message
    back into its queue, then mark it replayed. If the requeued copy is parked again before
    the mark, the collector re-opens the row and the mark leaves it parked."""
    now = clock()
    with engine.begin() as conn:
        row = _find(conn, dead_letter_id)
        if row is None:
            raise NotFound(f"no dead letter {dead_letter_id}")
        claimed = conn.execute(update(t).where(t.c.id == row.id, t.c.status == "parked")
                               .values(status="replaying", settled_at=now,
                                       settled_by=actor[:80])).rowcount
        if claimed != 1:
            raise Conflict(f"dead letter {dead_letter_id} is {row.status}, not parked")
    try:
        lot.requeue(_message(row))
    except Exception:
        with engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == row.id, t.c.status == "replaying")
                         .values(status="parked", settled_at=None, settled_by=None))
        raise
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == row.id, t.c.status == "replaying")
                     .values(status="replayed"))
        audit(conn, actor, "replay", f"dead_letter/{row.id}",
              f"{row.event_type} {row.event_id} into {row.queue}", now)
    return {"id": row.id, "status": "replayed"}


def _message(row) -> ParkedMessage:
    return ParkedMessage(queue=row.queue, event_id=row.event_id, event_type=row.event_type,
                         body=row.body, reason=row.reason, attempts=row.attempts)


def finish_interrupted_replays(engine: Engine, lot: ParkingLot, clock: Clock = utcnow,
                               older_than: float = 60.0) -> int:
    """Replays cut off between claim and mark (a crash) are requeued again: at least once,
    and the consumer's inbox makes a second copy harmless."""
    cutoff = clock() - timedelta(seconds=older_than)
    with engine.connect() as conn:
        stuck = conn.execute(select(t).where(t.c.status == "replaying",
                                             t.c.settled_at < cutoff)).all()
    for row in stuck:
        lot.requeue(_message(row))
        with engine.begin() as conn:
            conn.execute(update(t).where(t.c.id == row.id, t.c.status == "replaying")
                         .values(status="replayed"))
    return len(stuck)


def discard(engine: Engine, dead_letter_id: int, actor: str, note: str,
            clock: Clock = utcnow) -> dict:
    if not note or not note.strip():
        raise ValueError("note: say why the message is discarded")
    now = clock()
    with engine.begin() as conn:
        row = _find(conn, dead_letter_id)
        if row is None:
            raise NotFound(f"no dead letter {dead_letter_id}")
        if row.status != "parked":
            raise Conflict(f"dead letter {dead_letter_id} is {row.status}, not parked")
        conn.execute(update(t).where(t.c.id == row.id).values(
            status="discarded", settled_at=now, settled_by=actor[:80], note=note.strip()))
        audit(conn, actor, "discard", f"dead_letter/{row.id}",
              f"{row.event_type} {row.event_id} from {row.queue}: {note.strip()}", now)
    return {"id": row.id, "status": "discarded"}


# --- batches ------------------------------------------------------------------------------

def start_batch(engine: Engine, selection: dict, actor: str, clock: Clock = utcnow) -> dict:
    """Fix the set of dead letters to replay now; the background loop works through it."""
    batch_id, now = str(uuid.uuid4()), clock()
    with engine.begin() as conn:
        ids = [r.id for r in conn.execute(select(t.c.id).where(selection_filter(selection))
                                          .order_by(t.c.id))]
        conn.execute(tables.replay_batches.insert().values(
            id=batch_id, requested_by=actor[:80], selection=selection, total=len(ids),
            done=0, failed=0, status="running" if ids else "finished", created_at=now,
            finished_at=None if ids else now))
        if ids:
            conn.execute(tables.replay_items.insert(),
                         [{"batch_id": batch_id, "dead_letter_id": i} for i in ids])
        audit(conn, actor, "replay_batch", f"batch/{batch_id}",
              f"{len(ids)} message(s) selected by {json.dumps(selection, sort_keys=True)}", now)
    return batch(engine, batch_id)


def batch(engine: Engine, batch_id: str) -> dict:
    b = tables.replay_batches
    with engine.connect() as conn:
        row = conn.execute(select(b).where(b.c.id == batch_id)).first()
    if row is None:
        raise NotFound(f"no replay batch {batch_id}")
    return {"id": row.id, "status": row.status, "total": row.total, "done": row.done,
            "failed": row.failed, "requested_by": row.requested_by,
            "selection": row.selection, "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "progress": round((row.done + row.failed) / row.total, 3) if row.total else 1.0}


def work_on_batches(engine: Engine, lot: ParkingLot, clock: Clock = utcnow,
                    chunk: int = 100, progress: Callable[[int], None] | None = None,
                    only: str | None = None) -> int:
    """Replay the next chunk of every running batch; returns how many messages were handled.
    Items still parked are replayed; items settled meanwhile (by hand) count as done."""
    b, items = tables.replay_batches, tables.replay_items
    handled = 0
    with engine.connect() as conn:
        query = select(b.c.id).where(b.c.status == "running")
        if only:
            query = query.where(b.c.id == only)
        running = [r.id for r in conn.execute(query)]
    for batch_id in running:
        with engine.connect() as conn:
            pending = conn.execute(
                select(items.c.dead_letter_id, t.c.status).join(
                    t, t.c.id == items.c.dead_letter_id)
                .where(items.c.batch_id == batch_id).order_by(items.c.dead_letter_id)
                .limit(chunk)).all()
        for dead_letter_id, status in pending:
            ok = True
            try:
                if status == "parked":
                    replay(engine, lot, dead_letter_id, f"batch/{batch_id[:8]}", clock)
            except Conflict:
                pass  # settled meanwhile (by hand, or by another process working the batch)
            except Exception:
                ok = False
            # whoever removes the item counts it: exactly once, even with two workers
            with engine.begin() as conn:
                if conn.execute(items.delete().where(
                        items.c.batch_id == batch_id,
                        items.c.dead_letter_id == dead_letter_id)).rowcount == 1:
                    conn.execute(update(b).where(b.c.id == batch_id).values(
                        done=b.c.done + (1 if ok else 0), failed=b.c.failed + (0 if ok else 1)))
                    handled += 1
            if progress:
                progress(1)
        with engine.begin() as conn:
            left = conn.execute(select(func.count()).select_from(items)
                                .where(items.c.batch_id == batch_id)).scalar()
            if not left:
                conn.execute(update(b).where(b.c.id == batch_id).values(
                    status="finished", finished_at=clock()))
    return handled


def replay_all(engine: Engine, lot: ParkingLot, selection: dict, actor: str,
               progress: Callable[[int], None] | None = None,
               clock: Clock = utcnow) -> dict:
    """Replay a selection here and now (the CLI), reporting progress per message."""
    started = start_batch(engine, selection, actor, clock)
    while batch(engine, started["id"])["status"] == "running":
        work_on_batches(engine, lot, clock, progress=progress, only=started["id"])
    return batch(engine, started["id"])
