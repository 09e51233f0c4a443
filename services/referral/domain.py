"""Referrals, their FHIR Task lifecycle and need routing: plain domain code."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable, Sequence

# FHIR Task status codes (http://hl7.org/fhir/task-status); "ready" and "entered-in-error"
# are not used by Lotse.
TERMINAL = frozenset({"rejected", "cancelled", "failed", "completed"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"requested", "cancelled"}),
    "requested": frozenset({"received", "accepted", "rejected", "cancelled", "failed",
                            "on-hold", "in-progress", "completed"}),
    "received": frozenset({"accepted", "rejected", "cancelled", "failed", "in-progress",
                           "on-hold", "completed"}),
    "accepted": frozenset({"in-progress", "on-hold", "completed", "cancelled", "failed"}),
    "in-progress": frozenset({"on-hold", "completed", "failed", "cancelled"}),
    "on-hold": frozenset({"requested", "received", "accepted", "in-progress", "completed",
                          "cancelled", "failed"}),
    **{s: frozenset() for s in TERMINAL},
}


class ReferralError(Exception):
    pass


class TransitionNotAllowed(ReferralError):
    def __init__(self, current: str, new: str):
        super().__init__(f"a referral cannot go from {current} to {new}")
        self.current, self.new = current, new


@dataclass(frozen=True)
class PersonFacts:
    """What routing may look at; the person's name is not among it."""

    birth_date: date
    nationality: str
    residence_status: str
    languages: tuple[str, ...]


def age_on(birth_date: date, day: date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


@dataclass(frozen=True)
class RoutingRule:
    """One row of the routing table: if need and conditions hold, refer to partner/service."""

    id: str
    need: str
    partner: str
    service: str
    priority: int
    citation: str
    min_age: int | None = None
    max_age: int | None = None  # exclusive: JMD serves up to the 27th birthday
    residence_statuses: tuple[str, ...] | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def effective_on(self, day: date) -> bool:
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))

    def explain(self, facts: PersonFacts, day: date) -> str | None:
        """Why this rule applies ("JMD: age 19 within 12–26"), or None if it does not."""
        age = age_on(facts.birth_date, day)
        if self.min_age is not None and age < self.min_age:
            return None
        if self.max_age is not None and age >= self.max_age:
            return None
        if self.residence_statuses is not None and facts.residence_status not in \
                self.residence_statuses:
            return None
        parts = []
        if self.min_age is not None or self.max_age is not None:
            low = self.min_age if self.min_age is not None else 0
            high = f"{self.max_age - 1}" if self.max_age is not None else "+"
            parts.append(f"age {age} within {low}–{high}" if self.max_age is not None
                         else f"age {age} ≥ {low}")
        if self.residence_statuses is not None:
            parts.append(f"status {facts.residence_status}")
        condition = ", ".join(parts) or "no conditions"
        return f"{self.service.upper()}: {condition} ({self.citation})"


@dataclass(frozen=True)
class Route:
    partner: str
    service: str
    rule_id: str
    reason: str


def route_need(need: str, facts: PersonFacts, rules: Iterable[RoutingRule],
               day: date) -> Route | None:
    """The highest-priority effective rule for this need that the person meets."""
    for rule in sorted((r for r in rules if r.need == need and r.effective_on(day)),
                       key=lambda r: (r.priority, r.id)):
        reason = rule.explain(facts, day)
        if reason:
            return Route(rule.partner, rule.service, rule.id, reason)
    return None


@dataclass(frozen=True)
class HistoryEntry:
    status: str
    previous_status: str | None
    reason: str | None
    changed_by: str
    changed_at: datetime


@dataclass
class Referral:
    id: uuid.UUID
    intake_id: uuid.UUID
    intake_reference: str
    need: str
    partner: str | None
    service: str | None
    routing_reason: str
    status: str
    reason: str | None
    partner_case_ref: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry] = field(default_factory=list)
    events: list[tuple[str, dict]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(cls, *, intake_id: uuid.UUID, intake_reference: str, need: str,
             route: Route | None, by: str, now: datetime) -> "Referral":
        """A referral for one need: requested from its partner, or on hold when no rule fits."""
        status = "requested" if route else "on-hold"
        reason = route.reason if route else f"no routing rule fits need {need}"
        referral = cls(id=uuid.uuid4(), intake_id=intake_id, intake_reference=intake_reference,
                       need=need, partner=route.partner if route else None,
                       service=route.service if route else None, routing_reason=reason,
                       status=status, reason=None if route else "no_matching_rule",
                       partner_case_ref=None, version=1, created_at=now, updated_at=now)
        referral.history.append(HistoryEntry(status, None, reason, by, now))
        if route is None:
            referral.events.append(("referral.status_changed", referral._status_payload(None, by)))
        return referral

    def change_status(self, new: str, *, by: str, reason: str | None, now: datetime) -> None:
        """Move along the lifecycle; every change is in the history and announced."""
        if new not in TRANSITIONS.get(self.status, ()):
            raise TransitionNotAllowed(self.status, new)
        previous, self.status, self.reason = self.status, new, reason
        self.version += 1
        self.updated_at = now
        self.history.append(HistoryEntry(new, previous, reason, by, now))
        self.events.append(("referral.status_changed", self._status_payload(previous, by)))

    def record_partner_case(self, case_ref: str, *, by: str, now: datetime) -> None:
        """The partner opened its case: remember its reference; 'received' if not further yet."""
        self.partner_case_ref = case_ref
        if self.status == "requested":
            self.change_status("received", by=by, reason="case opened at partner", now=now)
        else:
            self.updated_at = now

    def _status_payload(self, previous: str | None, by: str) -> dict:
        return {"referral_id": self.id, "intake_id": self.intake_id, "need": self.need,
                "partner": self.partner, "service": self.service, "status": self.status,
                "previous_status": previous, "reason": self.reason,
                "partner_case_ref": self.partner_case_ref, "version": self.version,
                "changed_at": self.updated_at, "changed_by": by}


def open_referrals(*, intake_id: uuid.UUID, intake_reference: str, needs: Sequence[str],
                   facts: PersonFacts, rules: Sequence[RoutingRule], by: str,
                   now: datetime) -> list[Referral]:
    """One referral per need, each routed by the rules in force on the intake's day."""
    return [Referral.open(intake_id=intake_id, intake_reference=intake_reference, need=need,
                          route=route_need(need, facts, rules, now.date()), by=by, now=now)
            for need in needs]
