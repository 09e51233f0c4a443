"""The sandbox's background loop: auto-accepts new cases and delivers signed callbacks."""
from __future__ import annotations

import logging
import threading

import requests
from sqlalchemy.engine import Engine

from services.partner_sandbox import store
from shared.clock import utcnow
from shared.config import Settings
from shared.signing import sign

log = logging.getLogger(__name__)


class PartnerNotifier:
    def __init__(self, engine: Engine, settings: Settings, poll: float = 0.5):
        self.engine, self.settings, self.poll = engine, settings, poll
        self.http = requests.Session()

    def sweep(self) -> int:
        for partner, reference in store.due_auto_accepts(
                self.engine, self.settings.sandbox_auto_accept_seconds):
            store.change_status(self.engine, partner, reference, "accepted")
        sent = 0
        for cb in store.due_callbacks(self.engine):
            ok, error = self._send(cb.partner, cb.body.encode())
            store.callback_done(self.engine, cb.id, ok, cb.attempts + 1, error, utcnow(),
                                refused=_refused(error))
            sent += ok
        return sent

    def _send(self, partner: str, body: bytes) -> tuple[bool, str]:
        """POST one callback, signed with the current secret of the partner sending it."""
        secret = self.settings.callback_secrets.get(partner, ("",))[0]
        if not secret:
            return False, f"no callback secret for {partner}"
        try:
            r = self.http.post(f"{self.settings.callback_url}/{partner}", data=body,
                               headers={"Content-Type": "application/json",
                                        **sign(secret, body)}, timeout=(3, 10))
        except requests.RequestException as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return r.status_code < 300, f"HTTP {r.status_code}"

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("sandbox notifier error")
            stop.wait(self.poll)


def _refused(error: str | None) -> bool:
    """Lotse refused the callback for good (a 4xx other than 429: an answer its lifecycle
    does not take, a replay): sending it again would be refused again."""
    if not error or not error.startswith("HTTP 4"):
        return False
    return error != "HTTP 429"

