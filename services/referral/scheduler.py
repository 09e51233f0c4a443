"""The scheduler process of the referral service: sweeps deadlines at a fixed pace."""
from __future__ import annotations

import logging
import threading

from services.referral import handlers
from shared.service import ServiceDeps

log = logging.getLogger(__name__)


class DeadlineScheduler:
    """Several schedulers may run: each referral is checked under a row lock (PostgreSQL)."""

    def __init__(self, deps: ServiceDeps, interval: float = 30.0):
        self.deps, self.interval = deps, interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                counts = handlers.sweep_deadlines(self.deps.uow, self.deps.clock)
                if counts:
                    log.info("deadline sweep", extra={"counts": counts})
            except Exception:
                log.exception("deadline sweep failed")
            stop.wait(self.interval)
