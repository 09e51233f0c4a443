"""The partner adapter's retention purges: what a partner received is not kept after delivery.

Once a partner's system confirmed the case, the city keeps only the disclosure (field list,
payload hash, basis, time) and the case's ids and statuses: the stored payload is reduced to
the referral id, intake reference, need and service (what the portal list and the partner's
answers refer to). Cases that ended without a delivery to a system (portal cases answered
for good or withdrawn, refused ones, ones cancelled before delivery) lose their payload a
while after their last change.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update

from services.partner_adapter import tables as t
from services.partner_adapter.domain import (FINAL_PARTNER_STATUSES, PORTAL_CHANNEL,
                                             holds_person, without_person)
from shared.retention import Purge, bus_purges, purge_with_dependents
from shared.service import ServiceDeps

c, d = t.partner_cases, t.disclosures


def _ended():
    """Cases that ended: failed, answered for good, withdrawn at the partner, or cancelled
    before delivery (a withdrawn consent, a cancelled referral, an erasure)."""
    return or_(c.c.status.in_(("failed", "cancelled")),
               c.c.partner_status.in_(FINAL_PARTNER_STATUSES), c.c.cancelled_at.is_not(None))


def _anonymise(session_factory, query, measured_from: str) -> Purge:
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with session_factory() as session:
            due = [r for r in session.execute(query(cutoff)).all() if holds_person(r.request)]
            if not dry_run:
                for row in due:
                    session.execute(update(c).where(c.c.id == row.id).values(
                        request=without_person(row.request)))
                session.commit()
            return len(due)
    return Purge(measured_from, "anonymise", apply)


def delivered_payloads(session_factory) -> Purge:
    """Cases delivered to a partner's system. Not portal cases: the portal is how those
    partners receive the data, for as long as they work on the case (ended_payloads)."""
    def query(cutoff: datetime):
        return select(c.c.id, c.c.request).where(c.c.id.in_(
            select(d.c.case_id).where(d.c.disclosed_at < cutoff,
                                      d.c.channel != PORTAL_CHANNEL)))
    return _anonymise(session_factory, query, "delivered_at")


def ended_payloads(session_factory) -> Purge:
    def query(cutoff: datetime):
        return select(c.c.id, c.c.request).where(_ended(), c.c.updated_at < cutoff)
    return _anonymise(session_factory, query, "last_change_after_end")


def ended_cases(session_factory) -> Purge:
    """Cases that ended, with their disclosures (the receipts), after the period."""
    def due(cutoff: datetime):
        return select(c.c.id).where(_ended(), c.c.updated_at < cutoff)
    return purge_with_dependents(session_factory, due, (d.c.case_id, c.c.id),
                                 measured_from="last_change_after_end")


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    sf = deps.session_factory
    return {"partner_payloads": delivered_payloads(sf),
            "ended_case_payloads": ended_payloads(sf),
            "partner_case_metadata": ended_cases(sf),
            **bus_purges(sf, t.outbox, t.inbox)}
