"""A partner case as Lotse tracks it: requested, opened at the partner, or failed for good.

The pending case is our outbox towards the partner: the bus handler only records it, a
separate loop calls the partner with the case's idempotency key (generated once, reused on
every retry), so a crash anywhere leaves either a pending case that is retried with the same
key or an opened one, never a lost request or a second case.
"""
from __future__ import annotations

import enum
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any, Iterable

from shared.events.model import (PartnerCaseFailedV1, PartnerCaseOpenedV1,
                                 PartnerCaseStatusReportedV1)
from shared.events.vocabulary import PARTNER_ANSWERS_AFTER, ReferralStatus


class CaseStatus(enum.StrEnum):
    """Where a case stands in Lotse: waiting to be delivered, opened at the partner, failed
    for good, or cancelled before it was delivered."""

    PENDING = "pending"
    OPENED = "opened"
    FAILED = "failed"
    CANCELLED = "cancelled"


# The partner's answers after which it answers no more (its statuses are FHIR Task codes).
FINAL_PARTNER_STATUSES = (ReferralStatus.COMPLETED, ReferralStatus.REJECTED,
                          ReferralStatus.CANCELLED)


def answers_open(previous: ReferralStatus | None) -> tuple[ReferralStatus, ...]:
    """The answers a partner may give after its last one (shared.events.vocabulary)."""
    return PARTNER_ANSWERS_AFTER.get(previous, ())


def answer_refused(previous: ReferralStatus | None, status: str,
                   outcome: str | None) -> str | None:
    """Why the referral lifecycle refuses this answer of a partner, or None: it must follow
    its last answer (the same answer again changes nothing and is taken), and only a
    completion has an outcome."""
    if status != previous and status not in answers_open(previous):
        allowed = ", ".join(answers_open(previous)) or "none (the case is closed)"
        return (f"a case answered '{previous or 'nothing yet'}' cannot be answered "
                f"'{status}'; possible: {allowed}")
    if outcome and status != ReferralStatus.COMPLETED:
        return f"an outcome belongs to a completion, not to '{status}'"
    return None


# The channel of partners without a system: they read the case in Lotse's partner portal,
# so its payload is the only copy they get while they work on the case.
PORTAL_CHANNEL = "partner_portal"
# What of a case's request identifies the case rather than the person.
CASE_KEYS = ("referral_id", "intake_reference", "need", "service")
ERASED_CASE_KEYS = ("referral_id", "need", "service")  # the intake reference points to them
KEY_NAMESPACE = uuid.UUID("7b0f8a52-3d1c-4e55-9a55-1c0ffee0d0e5")
# Growing delays between delivery attempts: quick at first (most failures are blips), then
# spread out so that a partner's allowed attempts (max_attempts, 8 by default: about two
# hours) outlast an outage of minutes or a restart window, instead of failing after four.
RETRY_DELAYS_SECONDS = (2.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0)


def idempotency_key(partner: str, referral_id: uuid.UUID) -> str:
    """Deterministic: the same referral at the same partner always has the same key."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{partner}:{referral_id}"))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return timedelta(seconds=RETRY_DELAYS_SECONDS[min(max(attempts, 1),
                                                      len(RETRY_DELAYS_SECONDS)) - 1])


def pick(request: dict[str, Any], path: str) -> Any:
    """The value at a dotted path ('person.birth_date'), or None."""
    node: Any = request
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def put_path(target: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path ('persons.0.family_name'): digits index into lists."""
    parts = path.split(".")
    node: Any = target
    for part, following in pairwise(parts):
        if isinstance(node, list):
            while len(node) <= int(part):
                node.append([] if following.isdigit() else {})
            node = node[int(part)]
        else:
            node = node.setdefault(part, [] if following.isdigit() else {})
    if isinstance(node, list):
        while len(node) <= int(parts[-1]):
            node.append(None)
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def minimise(request: dict[str, Any], allow_list: Iterable[str]) -> dict[str, Any]:
    """Only the fields the partner's allow-list names (data minimisation, Art. 5(1)(c))."""
    out: dict[str, Any] = {}
    for path in allow_list:
        value = pick(request, path)
        if value is not None:
            put_path(out, path, value)
    return out


def without_person(request: dict[str, Any], *, erased: bool = False) -> dict[str, Any]:
    """A case's request reduced to what identifies the case, not the person: after delivery
    or the end of a case (retention), or after an erasure, which also drops the intake
    reference and marks the case erased. A reduced request reduces to itself."""
    if erased or request.get("erased"):
        return {"erased": True, **{k: request[k] for k in ERASED_CASE_KEYS if k in request}}
    return {**{k: request[k] for k in CASE_KEYS if k in request}, "person": {}}


def shows_person(case: "PartnerCase", consent_withdrawn: bool) -> bool:
    """May a partner-facing view show the person on this case? Only once delivered (the
    consent was checked at that moment), while that consent still stands, and while the
    case still holds them (not trimmed by retention, not erased)."""
    return (case.status == CaseStatus.OPENED and not consent_withdrawn
            and bool(case.request.get("person")))


def holds_person(request: dict[str, Any]) -> bool:
    """Does the request still carry more than its reduction?"""
    return request != without_person(request)


@dataclass(frozen=True)
class Disclosure:
    """What a partner received, for accountability: which fields, a hash of the exact
    payload, when, over which channel and on which basis (never the data itself)."""

    case_id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    channel: str
    fields: tuple[str, ...]
    payload_sha256: str
    basis: str | None
    disclosed_at: datetime

    @classmethod
    def of(cls, case: "PartnerCase", channel: str, allow_list: Iterable[str],
           payload: dict[str, Any], now: datetime) -> "Disclosure":
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False, default=str)
        return cls(case.id, case.referral_id, case.partner, channel,
                   tuple(p for p in allow_list if pick(case.request, p) is not None),
                   hashlib.sha256(canonical.encode()).hexdigest(), case.basis, now)


# What a case announces: opened at the partner, failed for good, the partner's later status.
PartnerCaseEvent = PartnerCaseOpenedV1 | PartnerCaseFailedV1 | PartnerCaseStatusReportedV1


@dataclass
class PartnerCase:
    id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    service: str
    idempotency_key: str
    request: dict[str, Any]
    status: CaseStatus
    partner_case_ref: str | None
    partner_status: ReferralStatus | None  # what the partner last reported
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    reminder_due_at: datetime | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    cancel_due_at: datetime | None = None
    cancelled_at: datetime | None = None
    basis: str | None = None  # what allows the sharing: a consent id or a legal basis
    answer_lost: bool = False  # an attempt may have reached the partner: look up first
    appointment: dict[str, Any] | None = None  # booked by the partner (registration office)
    next_poll_at: datetime | None = None  # partners without webhooks: read the status then
    # the referral's flow: (correlation id, id of the referral.requested event), so events
    # emitted later by the case loop continue the same trace
    flow: tuple[str, str] | None = None
    # announced, not yet published: the handler stages them with the change (uow.publish)
    events: list[PartnerCaseEvent] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:  # read back from a table: the codes as strings
        self.status = CaseStatus(self.status)
        if self.partner_status is not None:
            self.partner_status = ReferralStatus(self.partner_status)

    @classmethod
    def requested(cls, *, referral_id: uuid.UUID, partner: str, service: str,
                  request: dict[str, Any], now: datetime,
                  basis: str | None = None,
                  flow: tuple[str, str] | None = None) -> "PartnerCase":
        return cls(id=uuid.uuid4(), referral_id=referral_id, partner=partner, service=service,
                   idempotency_key=idempotency_key(partner, referral_id), request=request,
                   status=CaseStatus.PENDING, partner_case_ref=None, partner_status=None,
                   attempts=0, next_attempt_at=now, last_error=None, created_at=now, updated_at=now,
                   basis=basis, flow=flow)

    def opened(self, case_ref: str, now: datetime,
               appointment: dict[str, Any] | None = None) -> list[PartnerCaseEvent]:
        """The partner has the case (and booked this appointment): announced once; returns
        what it announced."""
        if self.status != CaseStatus.PENDING:
            return []
        self.status, self.partner_case_ref, self.updated_at = CaseStatus.OPENED, case_ref, now
        self.last_error, self.answer_lost, self.appointment = None, False, appointment
        return self._announce(PartnerCaseOpenedV1(
            case_id=self.id, referral_id=self.referral_id, partner=self.partner,
            partner_case_ref=case_ref, opened_at=now, appointment=appointment or None))

    def _announce(self, *events: PartnerCaseEvent) -> list[PartnerCaseEvent]:
        self.events += events
        return list(events)

    @property
    def erased(self) -> bool:
        """The person was erased: the request holds ids only and is never sent again."""
        return bool(self.request.get("erased"))

    def opened_after_cancel(self, case_ref: str, now: datetime,
                            appointment: dict[str, Any] | None = None) -> list[PartnerCaseEvent]:
        """Lotse cancelled the pending case while the partner's call was under way, and the
        partner opened it: the partner holds the data, so the case is recorded as opened
        and then withdrawn at the partner like any open case. Returns what it announced."""
        if self.status != CaseStatus.CANCELLED or self.partner_case_ref is not None:
            return []
        self.status = CaseStatus.PENDING
        announced = self.opened(case_ref, now, appointment=appointment)
        self.cancel_requested(now)
        return announced

    def attempt_failed(self, error: str, now: datetime, *, answer_lost: bool = False,
                       max_attempts: int | None = None) -> list[PartnerCaseEvent]:
        """The partner was down or slow: try again later with the same idempotency key
        (after looking the case up, if the request may have reached it); after the last
        allowed attempt the delivery fails for good and staff take over (announced)."""
        self.attempts += 1
        self.last_error, self.updated_at = error[:1000], now
        self.answer_lost = self.answer_lost or answer_lost
        if max_attempts is not None and self.attempts >= max_attempts:
            return self.refused(f"partner unavailable after {self.attempts} attempts: {error}",
                                now, counted=True)
        self.next_attempt_at = now + backoff(self.attempts)
        return []

    def deferred(self, until: datetime, why: str, now: datetime) -> None:
        """Not tried now (circuit open, rate limit): no attempt is used up."""
        self.next_attempt_at, self.last_error, self.updated_at = until, why[:1000], now

    def refused(self, error: str, now: datetime,
                counted: bool = False) -> list[PartnerCaseEvent]:
        """The partner rejected the request itself (e.g. validation): retrying cannot help.
        Returns what it announced."""
        if not counted:
            self.attempts += 1
        self.status, self.last_error, self.updated_at = CaseStatus.FAILED, error[:1000], now
        return self._announce(PartnerCaseFailedV1(
            case_id=self.id, referral_id=self.referral_id, partner=self.partner,
            reason=error[:500], failed_at=now))

    def reminder_requested(self, now: datetime) -> bool:
        """The referral's deadline is near: remind the partner (once the case is open)."""
        if self.status != CaseStatus.OPENED or self.reminder_due_at is not None:
            return False
        self.reminder_due_at = now
        return True

    def reminder_key(self) -> str:
        return str(uuid.uuid5(KEY_NAMESPACE, f"{self.idempotency_key}:reminder:"
                                             f"{self.reminders_sent + 1}"))

    def reminder_sent(self, now: datetime) -> None:
        self.reminders_sent += 1
        self.reminder_due_at, self.last_reminder_at, self.updated_at = None, now, now

    def reminder_failed(self, error: str, now: datetime) -> None:
        self.last_error = error[:1000]
        self.reminder_due_at = now + backoff(self.reminders_sent + 2)

    def cancel_requested(self, now: datetime) -> bool:
        """Lotse cancelled the referral: a pending case is not opened any more, an opened
        one is withdrawn at the partner (sent by the case loop)."""
        if self.status == CaseStatus.PENDING:
            self.status, self.updated_at = CaseStatus.CANCELLED, now
            return True
        if self.status != CaseStatus.OPENED or self.cancel_due_at or self.cancelled_at:
            return False
        self.cancel_due_at = now
        return True

    def cancellation_key(self) -> str:
        return str(uuid.uuid5(KEY_NAMESPACE, f"{self.idempotency_key}:cancel"))

    def cancellation_sent(self, now: datetime) -> None:
        self.cancel_due_at, self.cancelled_at, self.updated_at = None, now, now
        self.reminder_due_at = None

    def cancellation_failed(self, error: str, now: datetime) -> None:
        self.last_error = error[:1000]
        self.cancel_due_at = now + backoff(3)

    def poll_after(self, seconds: float, now: datetime) -> None:
        """Read the partner's status again later, until its answer is final or Lotse
        withdrew the case."""
        self.next_poll_at = (now + timedelta(seconds=seconds)
                             if self.answerable else None)

    def status_event_id(self, status: str, changed_at: str | None) -> str:
        """A polled status change has no event id of the partner's: derive one from the
        status and when the partner changed it, so reading the same change twice records it
        once, while a status that comes back later (accepted, on-hold, accepted) counts."""
        return str(uuid.uuid5(KEY_NAMESPACE,
                              f"{self.idempotency_key}:status:{status}:{changed_at}"))

    @property
    def answerable(self) -> bool:
        """Can the partner still answer in the portal? Not once Lotse withdrew the case or
        the partner's answer was final."""
        return (self.status == CaseStatus.OPENED
                and not (self.cancel_due_at or self.cancelled_at)
                and self.partner_status not in FINAL_PARTNER_STATUSES)

    def reported(self, status: str, reason: str | None, case_ref: str, now: datetime,
                 outcome: str | None = None) -> list[PartnerCaseEvent]:
        """The partner told us (callback, portal, status read) where its case stands.
        Returns what it announced."""
        announced = []
        if self.status == CaseStatus.PENDING:  # its answer overtook our record of the opening
            announced = self.opened(case_ref, now)
        self.partner_status, self.updated_at = ReferralStatus(status), now
        return announced + self._announce(PartnerCaseStatusReportedV1(
            case_id=self.id, referral_id=self.referral_id, partner=self.partner,
            partner_case_ref=self.partner_case_ref or case_ref, status=self.partner_status,
            reason=reason, reported_at=now, outcome=outcome))
