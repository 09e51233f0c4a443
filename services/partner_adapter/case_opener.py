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
from shared import metrics
from shared.partners import DIRECTORY, PartnerConfig
from shared.service import ServiceDeps

log = logging.getLogger(__name__)
CIRCUIT_REPORT_SECONDS = 5.0  # how often operators get this process's breaker states
# The loops claim the other work (reminders, cancellations, status reads, notices) only
# this often, not in every round: four claims less per round, busy or idle.
OTHER_WORK_SECONDS = 1.0
# Outcomes saying a partner could not take a case now: the next round is a small one again.
NOT_NOW = frozenset({"retry", "failed", "deferred", "error", "later"})
# However long its partner's calls may take, a case's call may start at least this long
# after its round was claimed (see lease_for).
START_SECONDS = 10.0


def lease_for(gateways: Mapping[str, PartnerGateway], lease_seconds: float,
              directory: Mapping[str, PartnerConfig] = DIRECTORY) -> float:
    """How long a round leases its cases: `lease_seconds`, or longer when a partner's longest
    call (handlers.longest_call, from its directory timeouts) would not fit, so that every
    partner's call may still start START_SECONDS after the claim and end
    handlers.RECORDING_SECONDS before the lease does (open_partner_cases lets a call start
    only then). One lease for every round, as a claim cannot tell which partners it gets,
    and for the other work (one request per reminder, cancellation, status read, notice)."""
    longest = max((handlers.longest_call(directory[code]).total_seconds()
                   for code in gateways if code in directory), default=0.0)
    return max(lease_seconds, START_SECONDS + longest + handlers.RECORDING_SECONDS)


class CaseOpener:
    """Several openers may run at once: cases are leased (SKIP LOCKED on PostgreSQL).

    A round claims due cases in one query and opens them together: one read, the partner
    calls on the pool's threads, each answer recorded as soon as its call ends, with the
    others that ended meanwhile (handlers.open_partner_cases). A process runs `loops` round
    loops at once on one pool of `threads` threads, so while one loop claims, reads or
    waits for its round's slowest call, the others' calls keep the threads busy; the loops
    share the partners' circuit breakers and rate limits (PartnerGuards, thread-safe).
    Each loop's rounds start small (twice `threads` cases) and double up to `batch` while
    partners take every case; one that could not take a case makes that loop's next round
    small again, so a partner down for a moment fails a few calls, not a whole batch (which
    would also open its circuit breaker). Every OTHER_WORK_SECONDS one of the loops claims
    reminders, cancellations, status reads and notices, and every CIRCUIT_REPORT_SECONDS
    one reports the breakers' states. Leases: see lease_for.
    """

    def __init__(self, deps: ServiceDeps, gateways: Mapping[str, PartnerGateway], *,
                 threads: int | None = None, batch: int | None = None,
                 loops: int | None = None, lease_seconds: float = 60.0, poll: float = 0.2):
        self.deps, self.gateways = deps, gateways
        self.guards = PartnerGuards(DIRECTORY)  # per process: each opener protects itself
        self.threads = threads or deps.settings.case_opener_threads
        self.batch = batch or deps.settings.case_opener_batch
        self.loops = loops or deps.settings.case_opener_loops
        self.lease_seconds, self.poll = lease_for(gateways, lease_seconds), poll
        self.process = f"{socket.gethostname()}:{os.getpid()}:{id(self) % 10000}"
        self.round_sizes = [min(self.batch, 2 * self.threads)] * self.loops  # one per loop
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def open_due(self, pool: ThreadPoolExecutor, other_work: bool = True, loop: int = 0,
                 work_pool: ThreadPoolExecutor | None = None) -> int:
        """One round of round loop `loop`: due cases and, unless told not to, the other due
        work (on `work_pool` if given); returns how many cases and notices it worked on."""
        size, now = self.round_sizes[loop], self.deps.clock()
        ids = repository.claim_due(self.deps.engine, now, size, self.lease_seconds)
        if ids:
            outcomes = handlers.open_partner_cases(
                ids, self.deps.uow, self.gateways, guards=self.guards, clock=self.deps.clock,
                pool=pool, poll_seconds=self.deps.settings.partner_poll_seconds,
                lease_until=now + timedelta(seconds=self.lease_seconds))
            self.round_sizes[loop] = (min(2 * self.threads, self.batch)
                                      if NOT_NOW.intersection(outcomes.values())
                                      else min(2 * size, self.batch))
        return len(ids) + (self.other_work(work_pool or pool) if other_work else 0)

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
        # the other work has threads of its own: queued behind another loop's round of slow
        # calls, a reminder or notice could start late enough to outlast its lease
        with ThreadPoolExecutor(self.threads, thread_name_prefix="case-opener") as pool, \
                ThreadPoolExecutor(self.threads, thread_name_prefix="partner-work") as work:
            others = [threading.Thread(target=self._loop, args=(pool, work, stop, loop),
                                       daemon=True, name=f"case-opener-loop-{loop}")
                      for loop in range(1, self.loops)]
            for thread in others:
                thread.start()
            self._loop(pool, work, stop, 0)
            for thread in others:
                thread.join()

    def _loop(self, pool: ThreadPoolExecutor, work: ThreadPoolExecutor, stop: threading.Event,
              loop: int) -> None:
        while not stop.is_set():
            try:
                busy = self.open_due(pool, self._due("other work", OTHER_WORK_SECONDS), loop,
                                     work_pool=work)
                if self._due("circuit report", CIRCUIT_REPORT_SECONDS):
                    self.report_circuits()
            except Exception:
                log.exception("case opener loop error", extra={"loop": loop})
                busy = 0
            if not busy:
                stop.wait(self.poll)

    def report_circuits(self) -> None:
        """The breakers' states: to Prometheus first (it alerts even while the database is
        down), then to `partner_circuits` for the operator console."""
        states = self.guards.breaker.states(self.deps.clock())
        metrics.set_circuit_states(states)
        repository.save_circuit_states(self.deps.engine, self.process, states,
                                       self.deps.clock())

    def _due(self, what: str, every: float) -> bool:
        """Whether `what` is due, at most once every `every` seconds for all loops together:
        the loop that is told so does it."""
        with self._lock:
            if time.monotonic() - self._last.get(what, float("-inf")) < every:
                return False
            self._last[what] = time.monotonic()
            return True
