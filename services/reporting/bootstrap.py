"""Composition root of the reporting service."""
from __future__ import annotations

from dataclasses import dataclass, field

from services.reporting import tables
from services.reporting.domain import Keyer
from shared.config import REPORTING_KEY, SecretMissing, Settings
from shared.service import ServiceDeps, make_deps
from shared.uow import UnitOfWork


class ReportingUnitOfWork(UnitOfWork):
    """The shared unit of work, carrying the keyer its handlers pseudonymise ids with."""

    key: Keyer


@dataclass
class ReportingDeps(ServiceDeps):
    keyer: Keyer = field(kw_only=True)

    def uow(self) -> ReportingUnitOfWork:
        uow = ReportingUnitOfWork(self.session_factory, self.outbox, self.inbox,
                                  producer=self.settings.service, clock=self.clock,
                                  on_commit=self.relay_wake.set)
        uow.key = self.keyer
        return uow


def bootstrap(settings: Settings) -> ReportingDeps:
    """The pseudonyms' key is derived from the reporting service's own secret
    (LOTSE_REPORTING_KEY): the same in every process of the service, held by no other
    service (which hold the ids), never stored with the figures and never rotated."""
    if not settings.reporting_key:
        raise SecretMissing(f"{REPORTING_KEY} (or {REPORTING_KEY}_FILE) is not set: the "
                            "reporting service keys its pseudonyms with it (docs/security.md)")
    deps = make_deps(settings, tables.outbox, tables.inbox)
    return ReportingDeps(deps.settings, deps.engine, deps.session_factory, deps.outbox,
                         deps.inbox, deps.clock, keyer=Keyer.derived_from(settings.reporting_key))
