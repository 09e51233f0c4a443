"""A tiny HTTP client for end-to-end tests: log in, post intakes, read them, steer the sandbox."""
from __future__ import annotations

import requests

from tests.conftest import wait_until

FINAL_OR_RECEIVED = {"received", "accepted", "in-progress", "completed"}


class LotseClient:
    def __init__(self, base_url: str, username: str = "staff", password: str = "demo"):
        self.base = base_url.rstrip("/")
        self.http = self._logged_in(username, password)
        self._operator: requests.Session | None = None

    def _logged_in(self, username: str, password: str) -> requests.Session:
        http = requests.Session()
        r = http.post(f"{self.base}/api/v1/auth/token",
                      json={"username": username, "password": password}, timeout=10)
        r.raise_for_status()
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        return http

    @property
    def sandbox(self) -> requests.Session:
        """The sandbox's controls: each stand-in system takes only its own partner's
        credential, or an operator (the demo account)."""
        if self._operator is None:
            self._operator = self._logged_in("operator", "demo")
        return self._operator

    def post_intake(self, payload: dict) -> dict:
        r = self.http.post(f"{self.base}/api/v1/intakes", json=payload, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()

    def intake(self, intake_id: str) -> dict:
        r = self.http.get(f"{self.base}/api/v1/intakes/{intake_id}", timeout=10)
        r.raise_for_status()
        return r.json()

    def referrals(self, intake_id: str) -> list[dict]:
        r = self.http.get(f"{self.base}/api/v1/referrals", params={"intake_id": intake_id},
                          timeout=10)
        r.raise_for_status()
        return r.json()["items"]

    def wait_referred(self, intake_id: str, count: int, timeout: float = 10.0) -> list[dict]:
        """Until the intake shows `count` referrals, each with a case and received or later."""
        def done():
            refs = self.intake(intake_id)["referrals"]
            ok = len(refs) == count and all(
                r["status"] in FINAL_OR_RECEIVED and r["partner_case_ref"] for r in refs)
            return refs if ok else None
        return wait_until(done, timeout=timeout, interval=0.2,
                          message=f"{count} referrals of {intake_id} received")

    def sandbox_stats(self) -> dict:
        r = self.sandbox.get(f"{self.base}/sandbox/api/stats", timeout=10)
        r.raise_for_status()
        return r.json()

    def sandbox_cases(self, partner: str, client_reference: str | None = None) -> list[dict]:
        """What the stand-in partner system holds (with the request it received)."""
        r = self.sandbox.get(f"{self.base}/sandbox/{partner}/cases",
                             params={"client_reference": client_reference} if client_reference
                             else None, timeout=10)
        r.raise_for_status()
        return r.json()["items"]

    def set_partner(self, partner: str, mode: str, delay: float = 0.0,
                    **extra) -> None:
        r = self.sandbox.put(f"{self.base}/sandbox/{partner}/behaviour",
                             json={"mode": mode, "delay_seconds": delay, **extra}, timeout=10)
        r.raise_for_status()
