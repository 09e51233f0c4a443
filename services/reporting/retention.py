"""The reporting service's retention purges: its fact log and figures, and the bus records."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from services.reporting import domain
from services.reporting import tables as t
from shared.retention import Purge, bus_purges
from shared.service import ServiceDeps


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    return {"figures": _figures(deps), **bus_purges(deps.session_factory, t.outbox, t.inbox)}


def _figures(deps: ServiceDeps) -> Purge:
    """The facts and the figures of the same days go together, so a rebuild still equals
    what reports read."""
    dated = ((t.facts, t.facts.c.at), (t.consultations, t.consultations.c.at),
             (t.referrals, t.referrals.c.opened_at), (t.occurrences, t.occurrences.c.at),
             # a ticket's facts are all dated by its drawing (domain._ticket)
             (t.queue_tickets, t.queue_tickets.c.drawn_at))

    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with deps.session_factory() as session:
            if dry_run:
                return session.execute(select(func.count()).select_from(t.facts)
                                       .where(t.facts.c.at < cutoff)).scalar_one()
            conn = session.connection()
            _remember_earlier_visits(conn, cutoff)
            count = conn.execute(delete(t.facts).where(t.facts.c.at < cutoff)).rowcount
            for table, column in dated[1:]:
                conn.execute(delete(table).where(column < cutoff))
            session.commit()
            return count
    return Purge("occurred_at", "delete", apply)


def _remember_earlier_visits(conn: Connection, cutoff: datetime) -> None:
    """A person's later consultations stay returning when their first ones are purged: the
    facts kept say so (`seen_before`), so a rebuild still counts them as returning."""
    f = t.facts
    purged = select(f.c.person_key).where(f.c.kind == domain.CONSULTATION, f.c.at < cutoff)
    for row in conn.execute(select(f.c.seq, f.c.dims).where(
            f.c.kind == domain.CONSULTATION, f.c.at >= cutoff,
            f.c.person_key.in_(purged.scalar_subquery()))).all():
        if not row.dims.get("seen_before"):
            conn.execute(update(f).where(f.c.seq == row.seq).values(
                dims={**row.dims, "seen_before": True}))
