"""The loop that opens pending partner cases: claim due cases, call partners in a pool."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Mapping

from services.partner_adapter import handlers, notices, repository
from services.partner_adapter.guards import PartnerGuards
from services.partner_adapter.partners.base import PartnerGateway
from shared.partners import DIRECTORY
from shared.service import ServiceDeps

log = logging.getLogger(__name__)
CIRCUIT_REPORT_SECONDS = 5.0  # how often operators get this process's breaker states


class CaseOpener:
    """Several openers may run at once: cases are leased (SKIP LOCKED on PostgreSQL)."""

    def __init__(self, deps: ServiceDeps, gateways: Mapping[str, PartnerGateway], *,
                 threads: int = 4, lease_seconds: float = 60.0, poll: float = 0.2):
        self.deps, self.gateways = deps, gateways
        self.guards = PartnerGuards(DIRECTORY)  # per process: each opener protects itself
        self.threads, self.lease_seconds, self.poll = threads, lease_seconds, poll
        self.process = f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"

    def open_due(self, pool: ThreadPoolExecutor) -> int:
        ids = repository.claim_due(self.deps.engine, self.deps.clock(), self.threads * 2,
                                   self.lease_seconds)
        for _ in pool.map(self._open, ids):
            pass
        reminders = repository.claim_due(self.deps.engine, self.deps.clock(), self.threads,
                                         self.lease_seconds, work="remind")
        for _ in pool.map(self._remind, reminders):
            pass
        cancellations = repository.claim_due(self.deps.engine, self.deps.clock(),
                                             self.threads, self.lease_seconds, work="cancel")
        for _ in pool.map(self._cancel, cancellations):
            pass
        polls = repository.claim_due(self.deps.engine, self.deps.clock(), self.threads * 2,
                                     self.lease_seconds, work="poll")
        for _ in pool.map(self._poll, polls):
            pass
        told = notices.claim_due(self.deps.engine, self.deps.clock(), self.threads * 2,
                                 self.lease_seconds)
        for _ in pool.map(self._notify, told):
            pass
        return len(ids) + len(reminders) + len(cancellations) + len(polls) + len(told)

    def _notify(self, notice_id: str) -> None:
        try:
            notices.send_notice(notice_id, self.deps.uow, self.gateways, guards=self.guards,
                                clock=self.deps.clock)
        except Exception:  # the lease lapses and the notice is tried again
            log.exception("telling the partner of a withdrawal or erasure failed",
                          extra={"notice_id": notice_id})

    def _poll(self, case_id: str) -> None:
        try:
            handlers.poll_partner_case(case_id, self.deps.uow, self.gateways,
                                       poll_seconds=self.deps.settings.partner_poll_seconds)
        except Exception:
            log.exception("reading the partner's case status failed",
                          extra={"case_id": case_id})

    def _cancel(self, case_id: str) -> None:
        try:
            handlers.send_cancellation(case_id, self.deps.uow, self.gateways)
        except Exception:
            log.exception("telling the partner of a cancellation failed",
                          extra={"case_id": case_id})

    def _remind(self, case_id: str) -> None:
        try:
            handlers.send_reminder(case_id, self.deps.uow, self.gateways)
        except Exception:
            log.exception("reminding the partner failed", extra={"case_id": case_id})

    def _open(self, case_id: str) -> None:
        try:
            handlers.open_partner_case(case_id, self.deps.uow, self.gateways,
                                       guards=self.guards, clock=self.deps.clock,
                                       poll_seconds=self.deps.settings.partner_poll_seconds)
        except Exception:  # the lease lapses and the case is tried again
            log.exception("opening partner case failed", extra={"case_id": case_id})

    def run(self, stop: threading.Event) -> None:
        polled = [code for code, p in DIRECTORY.items() if p.inbound == "poll"]
        if polled:
            repository.schedule_polls(self.deps.engine, polled, self.deps.clock())
        reported = 0.0
        with ThreadPoolExecutor(self.threads, thread_name_prefix="case-opener") as pool:
            while not stop.is_set():
                try:
                    busy = self.open_due(pool)
                    if time.monotonic() - reported >= CIRCUIT_REPORT_SECONDS:
                        reported = time.monotonic()
                        repository.save_circuit_states(
                            self.deps.engine, self.process,
                            self.guards.breaker.states(self.deps.clock()), self.deps.clock())
                except Exception:
                    log.exception("case opener loop error")
                    busy = 0
                if not busy:
                    stop.wait(self.poll)
