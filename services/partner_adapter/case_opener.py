"""The loop that opens pending partner cases: claim due cases, call partners in a pool."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Mapping

from services.partner_adapter import handlers, notices, repository
from services.partner_adapter.guards import PartnerGuards
from services.partner_adapter.partners.base import PartnerGateway
from shared.partners import DIRECTORY
from shared.service import ServiceDeps

log = logging.getLogger(__name__)
CIRCUIT_REPORT_SECONDS = 5.0  # how often operators get this process's breaker states
# The loop claims the other work (reminders, cancellations, status reads, notices) only
# this often, not in every round: four claims less per round, busy or idle.
OTHER_WORK_SECONDS = 1.0
# Outcomes saying a partner could not take a case now: the next round is a small one again.
NOT_NOW = frozenset({"retry", "failed", "deferred", "error", "later"})


class CaseOpener:
    """Several openers may run at once: cases are leased (SKIP LOCKED on PostgreSQL).

    A round claims due cases in one query and opens them together: one read, the partner
    calls on `threads` threads, one transaction recording the answers
    (handlers.open_partner_cases). Rounds start small (twice `threads` cases) and double up
    to `batch` while partners take every case; one that could not take a case makes the
    next round small again, so a partner down for a moment fails a few calls, not a whole
    batch (which would also open its circuit breaker). The loop claims reminders,
    cancellations, status reads and notices every OTHER_WORK_SECONDS.
    """

    def __init__(self, deps: ServiceDeps, gateways: Mapping[str, PartnerGateway], *,
                 threads: int | None = None, batch: int | None = None,
                 lease_seconds: float = 60.0, poll: float = 0.2):
        self.deps, self.gateways = deps, gateways
        self.guards = PartnerGuards(DIRECTORY)  # per process: each opener protects itself
        self.threads = threads or deps.settings.case_opener_threads
        self.batch = batch or deps.settings.case_opener_batch
        self.lease_seconds, self.poll = lease_seconds, poll
        self.process = f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self.round_size = min(self.batch, 2 * self.threads)

    def open_due(self, pool: ThreadPoolExecutor, other_work: bool = True) -> int:
        """One round: due cases and, unless told not to, the other due work; returns how
        many cases and notices it worked on."""
        size, now = self.round_size, self.deps.clock()
        ids = repository.claim_due(self.deps.engine, now, size, self.lease_seconds)
        if ids:
            # calls start only in the first half of the leases: a started call (partners'
            # timeouts are seconds) ends before another opener may take its case
            outcomes = handlers.open_partner_cases(
                ids, self.deps.uow, self.gateways, guards=self.guards, clock=self.deps.clock,
                map=pool.map, poll_seconds=self.deps.settings.partner_poll_seconds,
                start_before=now + timedelta(seconds=self.lease_seconds / 2))
            self.round_size = (min(2 * self.threads, self.batch)
                               if NOT_NOW.intersection(outcomes.values())
                               else min(2 * size, self.batch))
        return len(ids) + (self.other_work(pool) if other_work else 0)

    def other_work(self, pool: ThreadPoolExecutor) -> int:
        """Due reminders, cancellations, status reads and notices."""
        done = 0
        for claim, work, limit in (
                (partial(repository.claim_due, work="remind"), self._remind, self.threads),
                (partial(repository.claim_due, work="cancel"), self._cancel, self.threads),
                (partial(repository.claim_due, work="poll"), self._poll, self.threads * 2),
                (notices.claim_due, self._notify, self.threads * 2)):
            ids = claim(self.deps.engine, self.deps.clock(), limit, self.lease_seconds)
            for _ in pool.map(work, ids):
                pass
            done += len(ids)
        return done

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

    def run(self, stop: threading.Event) -> None:
        polled = [code for code, p in DIRECTORY.items() if p.inbound == "poll"]
        if polled:
            repository.schedule_polls(self.deps.engine, polled, self.deps.clock())
        reported = other_work_at = float("-inf")
        with ThreadPoolExecutor(self.threads, thread_name_prefix="case-opener") as pool:
            while not stop.is_set():
                try:
                    other_work = time.monotonic() - other_work_at >= OTHER_WORK_SECONDS
                    if other_work:
                        other_work_at = time.monotonic()
                    busy = self.open_due(pool, other_work)
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
