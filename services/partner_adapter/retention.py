"""The partner adapter's retention purges: what a partner received is not kept after delivery.

Once a partner's system confirmed the case, the city keeps only the disclosure (field list,
payload hash, basis, time) and the case's ids and statuses: the stored payload is reduced to
the referral id, intake reference, need and service (what the portal list and the partner's
answers refer to). Cases that ended without a delivery (portal cases answered for good or
withdrawn, refused ones) lose their payload a while after their last change.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update

from services.partner_adapter import tables as t
from services.partner_adapter.domain import FINAL_PARTNER_STATUSES
from shared.retention import Purge, bus_purges
from shared.service import ServiceDeps

KEPT_KEYS = ("referral_id", "intake_reference", "need", "service")
c, d = t.partner_cases, t.disclosures


def without_person(request: dict) -> dict:
    """The payload reduced to what identifies the case, not the person."""
    return {**{k: request[k] for k in KEPT_KEYS if k in request}, "person": {}}


def _ended():
    return or_(c.c.status == "failed", c.c.partner_status.in_(FINAL_PARTNER_STATUSES),
               c.c.cancelled_at.is_not(None))


def _still_personal(rows) -> list:
    return [r for r in rows if r.request.get("person") or set(r.request) - {*KEPT_KEYS,
                                                                              "person"}]


def _anonymise(session_factory, query, measured_from: str) -> Purge:
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with session_factory() as session:
            due = _still_personal(session.execute(query(cutoff)).all())
            if not dry_run:
                for row in due:
                    session.execute(update(c).where(c.c.id == row.id).values(
                        request=without_person(row.request)))
                session.commit()
            return len(due)
    return Purge(measured_from, "anonymise", apply)


def delivered_payloads(session_factory) -> Purge:
    def query(cutoff: datetime):
        return select(c.c.id, c.c.request).where(c.c.id.in_(
            select(d.c.case_id).where(d.c.disclosed_at < cutoff)))
    return _anonymise(session_factory, query, "delivered_at")


def ended_payloads(session_factory) -> Purge:
    def query(cutoff: datetime):
        return select(c.c.id, c.c.request).where(_ended(), c.c.updated_at < cutoff)
    return _anonymise(session_factory, query, "last_change_after_end")


def ended_cases(session_factory) -> Purge:
    """Cases that ended, with their disclosures (the receipts), after the period."""
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        due = select(c.c.id).where(_ended(), c.c.updated_at < cutoff)
        with session_factory() as session:
            if dry_run:
                return session.execute(select(func.count()).select_from(
                    due.subquery())).scalar_one()
            ids = list(session.execute(due).scalars())
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                session.execute(delete(d).where(d.c.case_id.in_(chunk)))
                session.execute(delete(c).where(c.c.id.in_(chunk)))
            session.commit()
            return len(ids)
    return Purge("last_change_after_end", "delete", apply)


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    sf = deps.session_factory
    return {"partner_payloads": delivered_payloads(sf),
            "ended_case_payloads": ended_payloads(sf),
            "partner_case_metadata": ended_cases(sf),
            **bus_purges(sf, t.outbox, t.inbox)}
