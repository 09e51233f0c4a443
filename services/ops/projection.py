"""The console's own read model of the network, kept from the events it journals.

Every event of the catalogue reaches `ops.journal` (consumers.py). Its handlers write the
journal rows and fold the referral service's events into `ops_referrals` (domain.py's
ReferralFacts rules); the overview and the alerts count overdue referrals from there, so the
console reads no other service's tables. A batch is one multi-row insert into the journal and
one multi-row upsert of the projection, its merge done by the database (the same rules as
domain.merged), so concurrent batches touching one referral need no lock and lose nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.ops import domain
from services.ops.tables import journal, referrals
from shared.db import upsert_insert

ROWS_PER_STATEMENT = 500  # far below SQLite's and PostgreSQL's bound-parameter limits


def _chunks(rows: Sequence[dict], size: int = ROWS_PER_STATEMENT):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def append_to_journal(session: Session, entries: Sequence[dict]) -> None:
    """Journal rows in one statement (per 500); an event journalled before (an inbox row
    purged, then replayed) is skipped, not an error."""
    for chunk in _chunks(entries):
        session.execute(upsert_insert(session, journal).values(list(chunk))
                        .on_conflict_do_nothing(index_elements=[journal.c.event_id]))


def apply_referral_facts(session: Session, facts: Iterable[domain.ReferralFacts],
                         now: datetime) -> None:
    """Fold facts (one per referral, domain.fold) into the projection: one upsert per 500,
    in referral id order (concurrent batches lock rows in the same order)."""
    rows = [{"referral_id": f.referral_id, "partner": f.partner, "status": f.status,
             "version": f.version, "status_at": f.status_at, "work_since": f.work_since,
             "ack_overdue_since": f.ack_overdue_since,
             "completion_overdue_since": f.completion_overdue_since, "updated_at": now}
            for f in sorted(facts, key=lambda f: f.referral_id)]
    for chunk in _chunks(rows):
        statement = upsert_insert(session, referrals).values(list(chunk))
        session.execute(statement.on_conflict_do_update(
            index_elements=[referrals.c.referral_id], set_=_merge(statement.excluded)))


def _merge(new) -> dict:
    """domain.merged in SQL: `new` is the row offered (EXCLUDED), `r` the stored one."""
    r = referrals.c
    takes = and_(new.status.is_not(None), or_(
        r.status.is_(None),
        and_(new.version.is_not(None), or_(r.version.is_(None), new.version > r.version))))
    return {
        **{c: case((takes, new[c]), else_=r[c])
           for c in ("partner", "status", "version", "status_at")},
        "work_since": _pick(new.work_since, r.work_since, earliest=True),
        "ack_overdue_since": _pick(new.ack_overdue_since, r.ack_overdue_since),
        "completion_overdue_since": _pick(new.completion_overdue_since,
                                          r.completion_overdue_since),
        "updated_at": new.updated_at,
    }


def _pick(new, old, earliest: bool = False):
    """The earlier (or later) of two times, either of them possibly NULL."""
    better = new < old if earliest else new > old
    return case((new.is_(None), old), (old.is_(None), new), (better, new), else_=old)


def overdue_condition():
    """domain.ReferralFacts.overdue as a WHERE clause."""
    r = referrals.c
    return and_(r.status.in_(domain.OPEN_STATUSES), or_(
        r.completion_overdue_since.is_not(None),
        and_(r.ack_overdue_since.is_not(None),
             or_(r.work_since.is_(None), r.ack_overdue_since > r.work_since))))


def overdue_referrals(conn: Connection) -> int:
    """Open referrals past their deadline, as the referral service's events told."""
    return conn.execute(select(func.count()).select_from(referrals)
                        .where(overdue_condition())).scalar() or 0


def forget_referrals(conn: Connection, ids: Sequence[str]) -> None:
    """Erasure: the rows of these referrals go (ids of other kinds match nothing)."""
    for start in range(0, len(ids), ROWS_PER_STATEMENT):
        conn.execute(delete(referrals).where(
            referrals.c.referral_id.in_(list(ids[start:start + ROWS_PER_STATEMENT]))))
