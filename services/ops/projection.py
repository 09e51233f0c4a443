"""The console's own read model of the network, kept from the events it journals.

Every event of the catalogue reaches `ops.journal` (consumers.py). Its handlers write the
journal rows and fold the referral service's events into `ops_referrals` (domain.py's
ReferralFacts rules); the overview and the alerts count overdue referrals from there, so the
console reads no other service's tables. A batch is one executemany insert into the journal
and one executemany upsert of the projection (sent as multi-row statements), its merge done
by the database (the same rules as domain.merged), so concurrent batches touching one
referral need no lock and lose nothing.
"""
from __future__ import annotations

import functools
from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import and_, case, delete, func, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from services.ops import domain
from services.ops.tables import journal, referrals
from shared.db import UPSERT_INSERTS


ROWS_PER_STATEMENT = 500  # ids per IN list: far below the databases' bound-parameter limits


@functools.cache
def _journal_insert(dialect: str):
    """Built once per dialect and run as an executemany (SQLAlchemy sends the rows as
    multi-row INSERTs itself): a statement with its VALUES rendered per batch cost more to
    compile, and psycopg to convert, than the database took to run it."""
    return (UPSERT_INSERTS[dialect](journal)
            .on_conflict_do_nothing(index_elements=[journal.c.event_id]))


@functools.cache
def _referral_upsert(dialect: str):
    statement = UPSERT_INSERTS[dialect](referrals)
    return statement.on_conflict_do_update(index_elements=[referrals.c.referral_id],
                                           set_=_merge(statement.excluded))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def append_to_journal(session: Session, entries: Sequence[dict]) -> None:
    """Journal rows in one executemany; an event journalled before (an inbox row purged,
    then replayed) is skipped, not an error."""
    if entries:
        session.execute(_journal_insert(_dialect(session)), list(entries))


def apply_referral_facts(session: Session, facts: Iterable[domain.ReferralFacts],
                         now: datetime) -> None:
    """Fold facts (one per referral, domain.fold) into the projection: one executemany
    upsert, in referral id order (concurrent batches lock rows in the same order)."""
    rows = [{"referral_id": f.referral_id, "partner": f.partner, "status": f.status,
             "version": f.version, "status_at": f.status_at, "work_since": f.work_since,
             "ack_overdue_since": f.ack_overdue_since,
             "completion_overdue_since": f.completion_overdue_since, "updated_at": now}
            for f in sorted(facts, key=lambda f: f.referral_id)]
    if rows:
        session.execute(_referral_upsert(_dialect(session)), rows)


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
