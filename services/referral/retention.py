"""The referral service's retention purges: referral metadata once a referral has ended."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select

from services.referral import tables as t
from services.referral.domain import TERMINAL
from shared.retention import Purge, bus_purges
from shared.service import ServiceDeps


def ended_referrals(session_factory) -> Purge:
    """Referrals that ended (completed, rejected, cancelled, failed) with their history, once
    their last change is older than the period: kept that long for accountability only."""
    r = t.referrals

    def due(cutoff: datetime):
        return select(r.c.id).where(r.c.status.in_(sorted(TERMINAL)), r.c.updated_at < cutoff)

    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        with session_factory() as session:
            if dry_run:
                return session.execute(select(func.count()).select_from(
                    due(cutoff).subquery())).scalar_one()
            ids = list(session.execute(due(cutoff)).scalars())
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                session.execute(delete(t.referral_history).where(
                    t.referral_history.c.referral_id.in_(chunk)))
                session.execute(delete(r).where(r.c.id.in_(chunk)))
            session.commit()
            return len(ids)
    return Purge("last_change_after_end", "delete", apply)


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    return {"referral_metadata": ended_referrals(deps.session_factory),
            **bus_purges(deps.session_factory, t.outbox, t.inbox)}
