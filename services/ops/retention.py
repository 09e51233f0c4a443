"""The operator console's retention purges: the event journal, its referral projection,
settled dead letters, audit."""
from __future__ import annotations

from services.ops import tables as t
from services.ops.domain import OPEN_STATUSES
from shared.retention import Purge, bus_purges, purge_rows
from shared.service import ServiceDeps


def purges(deps: ServiceDeps) -> dict[str, Purge]:
    sf = deps.session_factory
    return {
        "journal": purge_rows(sf, t.journal, "recorded_at", measured_from="recorded_at"),
        # updated_at: when an event last reached the row. An open referral's row stays: the
        # overdue count reads it, and a referral overdue for months must still be counted
        "referral_projection": purge_rows(
            sf, t.referrals, "updated_at", measured_from="last_event",
            where=lambda r: (r.c.status.is_(None) | r.c.status.not_in(OPEN_STATUSES),)),
        # parked ones stay until an operator replayed or discarded them
        "settled_dead_letters": purge_rows(
            sf, t.dead_letters, "settled_at", measured_from="settled_at",
            where=lambda d: (d.c.status.in_(("replayed", "discarded")),)),
        "ops_audit": purge_rows(sf, t.audit, "at", measured_from="at"),
        **bus_purges(sf, t.outbox, t.inbox),
    }
