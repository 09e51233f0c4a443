"""What every partner client does: open a case once per idempotency key, over HTTP.

A gateway is built from the partner's directory entry (endpoint, credentials, timeouts); its
kind says how our (already minimised) case request maps onto the partner's own format.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import logging

import requests

from services.partner_adapter.domain import pick, put_path
from shared.events.contracts import Appointment
from shared.partners import PartnerConfig

log = logging.getLogger(__name__)


class PartnerUnavailable(Exception):
    """5xx, 429, no connection: the request may be retried with the same key."""


class PartnerAnswerLost(PartnerUnavailable):
    """Timeout or a broken answer after the request was sent: the partner may have created
    the case, so look it up before asking again."""


class PartnerRefused(Exception):
    """4xx: the partner refused this request; the same request will never succeed."""


def checked_appointment(value: Any) -> dict[str, Any] | None:
    """The partner's appointment if it fits our contract, else None: a malformed appointment
    must never stop us recording that the case was opened."""
    if value is None:
        return None
    if not isinstance(value, dict) or Appointment().validate(value):
        log.warning("partner sent an appointment that breaks the contract; not shown",
                    extra={"appointment": str(value)[:200]})
        return None
    return value


@dataclass(frozen=True)
class Receipt:
    """The partner's answer to a new case: its reference and, where the partner books one,
    the appointment the person must keep (starts_at, location, what to bring)."""

    reference: str
    appointment: dict[str, Any] | None = None


class PartnerGateway(Protocol):
    def open_case(self, request: dict[str, Any], idempotency_key: str) -> Receipt:
        """Create (or find again) the case; the partner's receipt for it."""

    def find_case(self, referral_id: str) -> Receipt | None:
        """The case the partner holds for this referral, if any."""

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        """Our case request in the partner's own shape (what the partner receives)."""

    def case_status(self, case_ref: str) -> dict[str, Any] | None:
        """Where the partner's case stands (status, reason, outcome), read from a partner
        that has no webhooks; None when the partner does not know the case."""

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        """Remind the partner of the case (one reminder per key)."""

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        """Withdraw the case at the partner."""

    def notify(self, case_ref: str, notice: dict[str, Any], idempotency_key: str) -> None:
        """Tell the partner about its case: consent withdrawn or erase the data (one notice
        per key; `notice` holds kind, referral_id, case_reference, reason, occurred_at)."""


class HttpPartnerGateway:
    """Shared HTTP mechanics; a kind names its paths, fixed values and field mapping."""

    path = ""
    reference_field = ""
    client_reference_field = ""
    fixed: dict[str, Any] = {}
    fields: dict[str, str] = {}  # our field (see shared.partners.SHAREABLE_FIELDS) -> theirs

    def __init__(self, config: PartnerConfig, base_url: str, secret: str,
                 session: requests.Session | None = None):
        self.config, self.base_url, self.secret = config, base_url.rstrip("/"), secret
        self._environment: dict[str, Any] = {}
        if session is None:
            session = requests.Session()
            # The environment's proxy and CA bundle settings, read once: requests would read
            # them again on every call (a third of its cost per call); they do not change.
            self._environment = session.merge_environment_settings(self.base_url, {}, None,
                                                                   None, None)
            session.trust_env = False
        self.http = session  # keeps its connections to the partner open between calls

    def payload(self, request: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for ours, theirs in self.fixed.items():
            put_path(body, ours, theirs)
        for ours, theirs in self.fields.items():
            value = pick(request, ours)
            if value is not None:
                put_path(body, theirs, value)
        return body

    def open_case(self, request: dict[str, Any], idempotency_key: str) -> Receipt:
        response = self._send("POST", self.path, idempotency_key, self.payload(request))
        try:
            body = response.json()
            return Receipt(str(body[self.reference_field]),
                           checked_appointment(body.get("appointment")))
        except (ValueError, KeyError, AttributeError) as exc:
            raise PartnerAnswerLost(f"unreadable answer: {exc}") from None

    def find_case(self, referral_id: str) -> Receipt | None:
        response = self._send("GET", self.path, None,
                              params={self.client_reference_field: referral_id})
        try:
            items = response.json()["items"]
        except (ValueError, KeyError) as exc:
            raise PartnerUnavailable(f"unreadable lookup answer: {exc}") from None
        return Receipt(str(items[0]["reference"]),
                       checked_appointment(items[0].get("appointment"))) if items else None

    def case_status(self, case_ref: str) -> dict[str, Any] | None:
        try:
            response = self._send("GET", f"{self.path}/{case_ref}", None)
        except PartnerRefused as exc:
            if str(exc).startswith("HTTP 404"):
                return None
            raise
        try:
            body = response.json()
            return {"status": body["status"], "reason": body.get("reason"),
                    "outcome": body.get("outcome"), "changed_at": body.get("updated_at")}
        except (ValueError, KeyError, TypeError) as exc:
            raise PartnerUnavailable(f"unreadable status answer: {exc}") from None

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        """Remind the partner of a case whose deadline is near (same key: one reminder)."""
        self._send("POST", f"{self.path}/{case_ref}/reminders", idempotency_key,
                   {"reminder": "deadline near"})

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        """Tell the partner that Lotse cancelled the referral behind this case."""
        self._send("POST", f"{self.path}/{case_ref}/cancellation", idempotency_key,
                   {"reason": "cancelled by referrer"})

    notices_path = "notices"  # under the case: {path}/{case_ref}/{notices_path}

    def notice_body(self, notice: dict[str, Any]) -> dict[str, Any]:
        """The notice in the partner's shape; ids and codes only, never the person."""
        return dict(notice)

    def notify(self, case_ref: str, notice: dict[str, Any], idempotency_key: str) -> None:
        """Tell the partner that the consent behind its case was withdrawn or that the data
        must be erased (same key: one notice, however often it is retried)."""
        self._send("POST", f"{self.path}/{case_ref}/{self.notices_path}", idempotency_key,
                   self.notice_body(notice))

    def _headers(self, idempotency_key: str | None) -> dict[str, str]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if self.config.auth_scheme == "bearer":
            headers["Authorization"] = f"Bearer {self.secret}"
        elif self.config.auth_scheme == "api_key":
            headers["X-Api-Key"] = self.secret
        return headers

    def _send(self, method: str, path: str, idempotency_key: str | None,
              body: dict[str, Any] | None = None, params: dict | None = None):
        try:
            response = self.http.request(
                method, self.base_url + path, json=body, params=params,
                headers=self._headers(idempotency_key),
                timeout=(self.config.connect_timeout, self.config.read_timeout),
                **self._environment)
        except requests.ConnectTimeout as exc:  # never reached the partner
            raise PartnerUnavailable(f"{type(exc).__name__}: {exc}") from None
        except requests.ConnectionError as exc:
            never_sent = "NewConnectionError" in repr(exc) or "refused" in str(exc)
            raise (PartnerUnavailable if never_sent else PartnerAnswerLost)(
                f"{type(exc).__name__}: {exc}") from None
        except requests.Timeout as exc:  # sent, but no answer in time
            raise PartnerAnswerLost(f"{type(exc).__name__}: {exc}") from None
        except requests.RequestException as exc:
            raise PartnerUnavailable(f"{type(exc).__name__}: {exc}") from None
        if response.status_code in (502, 504):
            raise PartnerAnswerLost(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 500 or response.status_code == 429:
            raise PartnerUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise PartnerRefused(f"HTTP {response.status_code}: {response.text[:300]}")
        return response
