"""What every partner client does: open a case once per idempotency key, over HTTP."""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

import requests

CONNECT_TIMEOUT, READ_TIMEOUT = 3.0, 10.0


class PartnerUnavailable(Exception):
    """5xx, 429, timeout or no connection: the request may be retried with the same key."""


class PartnerRefused(Exception):
    """4xx: the partner refused this request; the same request will never succeed."""


class PartnerGateway(Protocol):
    def open_case(self, request: dict[str, Any], idempotency_key: str) -> str:
        """Create (or find again) the case and return the partner's case reference."""

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        """Remind the partner of the case (one reminder per key)."""

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        """Withdraw the case at the partner."""


class HttpPartnerGateway(ABC):
    """Shared HTTP mechanics; subclasses map our request to the partner's payload."""

    path = ""
    reference_field = ""

    def __init__(self, base_url: str, api_key: str, session: requests.Session | None = None):
        self.base_url, self.api_key = base_url.rstrip("/"), api_key
        self.http = session or requests.Session()

    @abstractmethod
    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        """Our case request in the partner's own shape."""

    def open_case(self, request: dict[str, Any], idempotency_key: str) -> str:
        response = self._post(self.path, self.payload(request), idempotency_key)
        try:
            return str(response.json()[self.reference_field])
        except (ValueError, KeyError) as exc:
            raise PartnerUnavailable(f"unreadable answer: {exc}") from None

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        """Remind the partner of a case whose deadline is near (same key: one reminder)."""
        self._post(f"{self.path}/{case_ref}/reminders", {"reminder": "deadline near"},
                   idempotency_key)

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        """Tell the partner that Lotse cancelled the referral behind this case."""
        self._post(f"{self.path}/{case_ref}/cancellation", {"reason": "cancelled by referrer"},
                   idempotency_key)

    def _post(self, path: str, body: dict[str, Any], idempotency_key: str):
        try:
            response = self.http.post(
                self.base_url + path, json=body,
                headers={"Idempotency-Key": idempotency_key, "X-Api-Key": self.api_key},
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
        except requests.RequestException as exc:
            raise PartnerUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise PartnerUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise PartnerRefused(f"HTTP {response.status_code}: {response.text[:300]}")
        return response
