"""The referral service's retention purges: referral metadata once a referral has ended."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from services.referral import tables as t
from services.referral.domain import TERMINAL
from shared.retention import Purge, bus_purges, purge_with_dependents
from shared.service import ServiceDeps


def ended_referrals(session_factory) -> Purge:
    """Referrals that ended (completed, rejected, cancelled, failed) with their history, once
    their last change is older than the period: kept that long for accountability only."""
    r = t.referrals

    def due(cutoff: datetime):
        return select(r.c.id).where(r.c.status.in_(sorted(TERMINAL)), r.c.updated_at < cutoff)
    return purge_with_dependents(session_factory, due,
                                 (t.referral_history.c.referral_id, r.c.id),
                                 measured_from="last_change_after_end")


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    return {"referral_metadata": ended_referrals(deps.session_factory),
            **bus_purges(deps.session_factory, t.outbox, t.inbox)}
