"""Revoked tokens and sessions, as every service sees them.

The intake service owns the revocations (table `token_revocations`). Every service keeps a copy
in memory: intake's own is read from its table every second and takes a revocation recorded
by the same process at once; the other services' are refreshed every few seconds
(LOTSE_REVOCATION_REFRESH_SECONDS) from intake's internal route
`GET /internal/v1/token-revocations?since=...`, called with a service credential; in embedded
mode (one process) the network reads intake's table directly instead. A refresh happens in
the request that finds the copy stale, by one request at a time; the others go on with the
copy they have. If intake cannot be reached the last copy is kept and a warning logged, so a
short outage of intake neither locks everybody out nor forgets what was revoked.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

import requests

from shared.auth import Credential, issue_service_token
from shared.clock import utcnow
from shared.config import Settings

log = logging.getLogger("lotse.auth")

# Revocations are fetched "since" the newest one seen, less this overlap: a revocation that
# committed late with an earlier timestamp is still picked up (duplicates are harmless).
OVERLAP = timedelta(seconds=60)
FEED_PATH = "/internal/v1/token-revocations"


@dataclass(frozen=True)
class Revocation:
    """One token or session (jti), or every one of `username` issued up to `revoked_at`
    (jti None); it matters until `expires_at`, when everything it covers has expired."""

    jti: str | None
    username: str | None
    revoked_at: datetime
    expires_at: datetime

    def covers(self, credential: Credential) -> bool:
        if self.jti is not None:
            return self.jti == credential.jti
        return (self.username == credential.principal.username
                and credential.issued_at <= self.revoked_at.timestamp())

    def to_json(self) -> dict[str, str | None]:
        return {"jti": self.jti, "username": self.username,
                "revoked_at": self.revoked_at.isoformat(),
                "expires_at": self.expires_at.isoformat()}

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> "Revocation":
        return cls(item.get("jti"), item.get("username"),
                   datetime.fromisoformat(item["revoked_at"]),
                   datetime.fromisoformat(item["expires_at"]))


RevocationFeed = Callable[[datetime | None], list[Revocation]]


class RevocationList:
    """A service's in-memory copy of the unexpired revocations."""

    def __init__(self, feed: RevocationFeed, refresh_seconds: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic):
        self._feed, self._every, self._monotonic = feed, refresh_seconds, monotonic
        self._by_jti: dict[str, Revocation] = {}
        self._by_user: dict[str, Revocation] = {}
        self._newest: datetime | None = None
        self._due_at = 0.0
        self._lock = threading.Lock()
        self._failing = False

    def is_revoked(self, credential: Credential, now: datetime) -> bool:
        if self._monotonic() >= self._due_at:
            self.refresh(now, wait=False)
        by_jti, by_user = self._by_jti, self._by_user  # one consistent pair of snapshots
        hit = by_jti.get(credential.jti) or by_user.get(credential.principal.username)
        return hit is not None and hit.expires_at > now and hit.covers(credential)

    def add(self, revocation: Revocation, now: datetime) -> None:
        """A revocation this process recorded: in force here at once, not at the next refresh."""
        with self._lock:
            self._merge([revocation], now)

    def refresh(self, now: datetime | None = None, *, wait: bool = True) -> bool:
        """Fetch what was revoked since the last refresh; False if intake was unreachable
        (the copy stays as it was) or another thread is refreshing already."""
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            self._due_at = self._monotonic() + self._every
            try:
                fresh = self._feed(self._newest - OVERLAP if self._newest else None)
            except Exception as exc:  # any failure of the feed: keep the last copy
                if not self._failing:
                    log.warning("token revocations unavailable, keeping the last list",
                                extra={"error": f"{type(exc).__name__}: {exc}"})
                self._failing = True
                return False
            if self._failing:
                log.info("token revocations available again")
            self._failing = False
            self._merge(fresh, now or utcnow())
            return True
        finally:
            self._lock.release()

    def _merge(self, fresh: list[Revocation], now: datetime) -> None:
        by_jti = {k: r for k, r in self._by_jti.items() if r.expires_at > now}
        by_user = {k: r for k, r in self._by_user.items() if r.expires_at > now}
        for r in fresh:
            if r.expires_at <= now:
                continue
            if r.jti is not None:
                by_jti[r.jti] = r
            elif r.username is not None and (r.username not in by_user
                                             or by_user[r.username].revoked_at < r.revoked_at):
                by_user[r.username] = r  # the latest cut-off covers the earlier ones
            if self._newest is None or r.revoked_at > self._newest:
                self._newest = r.revoked_at
        self._by_jti, self._by_user = by_jti, by_user


class IntakeRevocationFeed:
    """The revocations from intake's internal route, asked with this service's credential."""

    def __init__(self, base_url: str, service: str, service_secret: str,
                 timeout: float = 2.0):
        self.url = base_url.rstrip("/") + FEED_PATH
        self.service, self.secret, self.timeout = service, service_secret, timeout
        self.http = requests.Session()

    def __call__(self, since: datetime | None) -> list[Revocation]:
        answer = self.http.get(
            self.url, params={"since": since.isoformat()} if since else None,
            headers={"Authorization": "Bearer " + issue_service_token(self.secret,
                                                                      self.service)},
            timeout=self.timeout)
        answer.raise_for_status()
        return [Revocation.from_json(item) for item in answer.json()["items"]]


def revocation_list_for(settings: Settings) -> RevocationList | None:
    """The default for a service's app: intake reads its own table (it installs that copy
    itself); every other service a copy fed over HTTP. The embedded network replaces the
    feed with a direct read of intake's table (services/embedded.py)."""
    if settings.service == "intake":
        return None
    return RevocationList(IntakeRevocationFeed(settings.intake_internal_url, settings.service,
                                               settings.service_secret),
                          settings.revocation_refresh_seconds)
