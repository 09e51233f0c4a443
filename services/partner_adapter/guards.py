"""Per-partner protection for the partner and for us: a circuit breaker and a rate limit.

Both only decide whether to call a partner now; a case that may not be tried is deferred
without using up an attempt, so a partner that is down for minutes costs no retries and holds
no message (cases wait in the database, not in a consumer).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping

from shared.partners import PartnerConfig


@dataclass
class _Circuit:
    failures: int = 0
    open_until: datetime | None = None
    trial_running: bool = False


class CircuitBreaker:
    """After `breaker_failures` failures in a row the circuit opens for
    `breaker_open_seconds`; then one trial call decides (half-open)."""

    def __init__(self, directory: Mapping[str, PartnerConfig]):
        self.directory, self._circuits = directory, {}
        self._lock = threading.Lock()

    def _circuit(self, partner: str) -> _Circuit:
        return self._circuits.setdefault(partner, _Circuit())

    def allow(self, partner: str, now: datetime) -> datetime | None:
        """None: call now. Otherwise the time from which to try again."""
        with self._lock:
            c = self._circuit(partner)
            if c.open_until is None:
                return None
            if now < c.open_until or c.trial_running:
                return max(c.open_until, now + timedelta(seconds=1))
            c.trial_running = True  # half-open: exactly one call finds out
            return None

    def record(self, partner: str, ok: bool, now: datetime) -> None:
        with self._lock:
            c = self._circuit(partner)
            c.trial_running = False
            if ok:
                c.failures, c.open_until = 0, None
                return
            c.failures += 1
            config = self.directory[partner]
            if c.failures >= config.breaker_failures:
                c.open_until = now + timedelta(seconds=config.breaker_open_seconds)

    def release_trial(self, partner: str) -> None:
        """A granted trial call did not happen (rate limit): let a later one try."""
        with self._lock:
            self._circuit(partner).trial_running = False

    def states(self, now: datetime) -> dict[str, tuple[str, int, datetime | None]]:
        """(state, failures in a row, open until) of every partner called so far."""
        with self._lock:
            partners = list(self._circuits)
        out = {}
        for p in partners:
            c = self._circuits[p]
            out[p] = (self.state(p, now), c.failures, c.open_until)
        return out

    def state(self, partner: str, now: datetime) -> str:
        with self._lock:
            c = self._circuit(partner)
            if c.open_until is None:
                return "closed"
            return "open" if now < c.open_until else "half-open"


class RateLimiter:
    """A token bucket per partner: at most `rate_limit_per_minute` calls, evenly spread."""

    def __init__(self, directory: Mapping[str, PartnerConfig]):
        self.directory = directory
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def take(self, partner: str, now: datetime) -> datetime | None:
        """None: go ahead (a token was taken). Otherwise when the next token is there."""
        rate = self.directory[partner].rate_limit_per_minute / 60.0  # tokens per second
        burst = max(1.0, rate)  # at most a second's worth at once
        with self._lock:
            tokens, last = self._buckets.get(partner, (burst, now))
            tokens = min(burst, tokens + max(0.0, (now - last).total_seconds()) * rate)
            if tokens >= 1.0:
                self._buckets[partner] = (tokens - 1.0, now)
                return None
            self._buckets[partner] = (tokens, now)
            return now + timedelta(seconds=(1.0 - tokens) / rate)


class PartnerGuards:
    """Breaker and rate limit together, as the case loop asks them."""

    def __init__(self, directory: Mapping[str, PartnerConfig]):
        self.breaker, self.limiter = CircuitBreaker(directory), RateLimiter(directory)

    def before(self, partner: str, now: datetime) -> tuple[datetime, str] | None:
        """None: call the partner now; else (retry from, why not now)."""
        until = self.breaker.allow(partner, now)
        if until is not None:
            return until, "circuit open: the partner failed repeatedly"
        until = self.limiter.take(partner, now)
        if until is not None:
            self.breaker.release_trial(partner)
            return until, "rate limit"
        return None

    def after(self, partner: str, reachable: bool, now: datetime) -> None:
        self.breaker.record(partner, reachable, now)
