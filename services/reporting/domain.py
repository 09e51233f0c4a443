"""The reporting rules, plain: what a fact is, how events become facts, and how figures are
grouped, summarised and suppressed. No Flask, no SQLAlchemy, no kombu.

A fact is what reporting keeps of one event: pseudonymous keys (a keyed hash of the person's,
intake's and referral's ids, so the figures link consultations of one person without holding
who they are) and coded dimensions (site, nationality, bands). Never a name, contact detail
or birth date: the age is kept as a band at the consultation's date.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping, Sequence

from shared.clock import CITY_TIME
from shared.events.model import (ConsentWithdrawnV1, IntakeRecordedV2,
                                 PersonErasureRequestedV1, QueueTicketCalledV1,
                                 QueueTicketClosedV2, QueueTicketDrawnV1, ReferralOverdueV1,
                                 ReferralRequestedV1, ReferralStatusChangedV1)
from shared.events.vocabulary import REFERRAL_OUTCOMES, REFERRAL_REASONS, ReferralStatus

# The event types reporting counts (and the erasure events it answers).
COUNTED_TYPES = ("intake.recorded", "referral.requested", "referral.status_changed",
                 "referral.overdue", "consent.withdrawn", "person.erasure_requested",
                 "queue.ticket_drawn", "queue.ticket_called", "queue.ticket_closed")

# Fact kinds: one per kind of thing counted.
CONSULTATION, REFERRAL, DEADLINE_BREACH = "consultation", "referral", "deadline_breach"
CONSENT_WITHDRAWAL, ERASURE = "consent_withdrawal", "erasure"
ON_HOLD = "on_hold"  # an occurrence kind, from a referral fact
# a walk-in ticket drawn, called, closed (one fact kind per event of it)
TICKET_DRAWN, TICKET_CALLED, TICKET_CLOSED = ("queue_ticket_drawn", "queue_ticket_called",
                                              "queue_ticket_closed")
TICKET_KINDS = (TICKET_DRAWN, TICKET_CALLED, TICKET_CLOSED)

OTHER = "other"  # a reason or outcome reporting does not know
UKRAINE = "UA"
NATIONALITY_GROUPS = (UKRAINE, "other")
AGE_BANDS = ((0, "0-5"), (6, "6-11"), (12, "12-17"), (18, "18-26"), (27, "27-44"),
             (45, "45-64"), (65, "65+"))  # JMD serves 12-26, MBE 27 and older
LARGEST_HOUSEHOLD = 6  # households of six or more are counted together ("6+")
INTERVALS = ("day", "week", "month", "quarter", "year")

# What a report may be grouped by.
CONSULTATION_DIMENSIONS = ("site", "nationality_group", "nationality", "channel", "language",
                           "interpreter", "visit", "household_size", "age_band")
# a referral's own, and those of the consultation it came from
REFERRAL_CONSULTATION_DIMENSIONS = ("site", "nationality_group")
REFERRAL_DIMENSIONS = ("partner", "service", "need", "status", "outcome", "rerouted",
                       *REFERRAL_CONSULTATION_DIMENSIONS)
# The partner's first answer (it has the case), and its acceptance (implied by working on it).
ANSWERED = frozenset({ReferralStatus.RECEIVED, ReferralStatus.ACCEPTED, ReferralStatus.REJECTED,
                      ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED})
ACCEPTED = frozenset({ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS,
                      ReferralStatus.COMPLETED})
# How far a walk-in ticket got: the furthest a ticket's facts tell wins, whatever order they
# arrive in (a closed ticket was called, a called one drawn).
# "left": still waiting or called when its day was over (closed by the intake service).
WAITING, CALLED, SERVED, NO_SHOW, LEFT = "waiting", "called", "served", "no_show", "left"
TICKET_REACHED = {WAITING: 0, CALLED: 1, SERVED: 2, NO_SHOW: 2, LEFT: 2}
TICKET_STATUSES = tuple(TICKET_REACHED)
QUEUE_DIMENSIONS = ("site", "language", "topic", "status", "interpreter_needed")
WITH_REASON = frozenset({ReferralStatus.ON_HOLD, ReferralStatus.REJECTED,
                         ReferralStatus.CANCELLED, ReferralStatus.FAILED})


class Keyer:
    """Pseudonymous keys: HMAC-SHA256 of a kind and an id under a secret key, 32 hex digits.

    The same id always gives the same key (a returning person is recognised, a referral's
    later events find its row); without the secret the key cannot be computed from the id,
    nor the id read from the key."""

    def __init__(self, secret: bytes):
        self._secret = secret

    @classmethod
    def derived_from(cls, secret: str | bytes) -> Keyer:
        """A key of its own, derived from a process secret (never the secret itself)."""
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls(hmac.new(raw, b"lotse reporting pseudonyms v1", hashlib.sha256).digest())

    def __call__(self, kind: str, subject_id: object) -> str:
        message = f"{kind}:{subject_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Fact:
    """What reporting keeps of one event."""

    kind: str
    at: datetime
    person_key: str | None = None
    intake_key: str | None = None
    referral_key: str | None = None
    dims: Mapping[str, Any] = field(default_factory=dict)


def city_day(moment: datetime) -> date:
    """The city's calendar date of a moment (Europe/Berlin)."""
    return moment.astimezone(CITY_TIME).date()


def nationality_group(nationality: str) -> str:
    return UKRAINE if nationality.upper() == UKRAINE else "other"


def age_band(birth_date: date, on: date) -> str:
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    band = AGE_BANDS[0][1]
    for lowest, name in AGE_BANDS:
        if age >= lowest:
            band = name
    return band


def household_size(members: int) -> str:
    """The person and the household members recorded with them, six and more together."""
    size = 1 + members
    return f"{LARGEST_HOUSEHOLD}+" if size >= LARGEST_HOUSEHOLD else str(size)


def fact_of(event: object, key: Keyer) -> Fact | None:
    """The fact an event brings (None: nothing reporting counts)."""
    if isinstance(event, IntakeRecordedV2):
        return _consultation(event, key)
    if isinstance(event, ReferralRequestedV1):
        return _referral(event, key, event.requested_at, reason=None, outcome=None)
    if isinstance(event, ReferralStatusChangedV1):
        return _referral(event, key, event.changed_at,
                         outcome=coded(event.outcome, REFERRAL_OUTCOMES),
                         reason=coded(event.reason, REFERRAL_REASONS)
                         if event.status in WITH_REASON else None)
    if isinstance(event, ReferralOverdueV1):
        return Fact(DEADLINE_BREACH, event.noticed_at,
                    referral_key=key("referral", event.referral_id),
                    intake_key=key("intake", event.intake_id),
                    dims={"phase": event.phase.value, "partner": event.partner,
                          "service": event.service})
    if isinstance(event, ConsentWithdrawnV1):
        return Fact(CONSENT_WITHDRAWAL, event.withdrawn_at,
                    person_key=key("person", event.person_id),
                    dims={"consent": key("consent", event.consent_id),
                          "partner": event.partner})
    if isinstance(event, QueueTicketDrawnV1):
        return _ticket(event, key)
    if isinstance(event, PersonErasureRequestedV1):
        return Fact(ERASURE, event.requested_at, dims={"request": key("request",
                                                                      event.request_id)})
    return None


def coded(value: str | None, codes: Sequence[str]) -> str | None:
    """A known code as it is, anything else "other": older referrals may hold free text in
    their reason or outcome, which reporting must not keep (nor show, nor export)."""
    if value is None:
        return None
    return value if value in codes else OTHER


def _referral(event: ReferralRequestedV1 | ReferralStatusChangedV1, key: Keyer, at: datetime, *,
              reason: str | None, outcome: str | None) -> Fact:
    """A referral's state as one of its events tells it (its version orders them)."""
    return Fact(REFERRAL, at, intake_key=key("intake", event.intake_id),
                referral_key=key("referral", event.referral_id), dims={
                    "need": event.need, "for_member": event.for_member,
                    "partner": event.partner, "service": event.service,
                    "status": event.status.value, "version": event.referral_version,
                    "reason": reason, "outcome": outcome})


def _consultation(event: IntakeRecordedV2, key: Keyer) -> Fact:
    person, day = event.person, city_day(event.recorded_at)
    intake_key = key("intake", event.intake_id)
    # v1 intakes named no person: each counts as a person of its own
    person_key = key("person", event.person_id) if event.person_id else intake_key
    language = person.preferred_language or (person.languages[0] if person.languages
                                             else "unknown")
    return Fact(CONSULTATION, event.recorded_at, person_key=person_key, intake_key=intake_key,
                dims={"site": event.site, "channel": event.channel,
                      "nationality": person.nationality.upper(),
                      "nationality_group": nationality_group(person.nationality),
                      "language": language, "interpreter": person.interpreter,
                      "household_size": household_size(len(person.household)),
                      "age_band": age_band(person.birth_date, day)})


def _ticket(event: QueueTicketDrawnV1, key: Keyer) -> Fact:
    """A walk-in ticket as one of its events tells it: drawn, called (how long it waited,
    whether an interpreter was needed), or closed (served, no-show). Keyed by the ticket (a
    keyed hash of its id); neither its number nor a consultation it led to is kept. Every fact
    of a ticket is dated by its drawing: it counts on that day, and a retention purge takes
    all of a ticket's facts with its row."""
    dims: dict[str, Any] = {"ticket": key("queue_ticket", event.ticket_id), "site": event.site,
                            "language": event.language, "topic": event.topic,
                            "status": WAITING, "waited_seconds": None,
                            "interpreter_needed": None}
    kind = TICKET_DRAWN
    # a closed ticket carries its call (none if it left without being called)
    if isinstance(event, (QueueTicketCalledV1, QueueTicketClosedV2)):
        kind = TICKET_CALLED
        dims.update(status=CALLED, interpreter_needed=event.interpreter_needed,
                    waited_seconds=None if event.waited_seconds is None
                    else max(0, event.waited_seconds))
    if isinstance(event, QueueTicketClosedV2):
        kind = TICKET_CLOSED
        dims.update(status=event.status)
    return Fact(kind, event.drawn_at, dims=dims)


def furthest(status: str, other: str) -> str:
    """Of two statuses of one ticket, the one it got further to (the same whatever order
    they come in)."""
    return max(status, other, key=lambda s: (TICKET_REACHED.get(s, 2), s))


# --- periods and summaries ----------------------------------------------------------------

def period_of(day: date, interval: str) -> str:
    """The label of the period a day falls in: 2022-03-07, 2022-W10, 2022-03, 2022-Q1, 2022."""
    if interval == "day":
        return day.isoformat()
    if interval == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if interval == "month":
        return f"{day.year}-{day.month:02d}"
    if interval == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if interval == "year":
        return str(day.year)
    raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest-rank percentile (the smallest value at least `share` of the values reach);
    None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def hours(seconds: Iterable[float]) -> list[float]:
    return [s / 3600 for s in seconds]


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class Suppression:
    """Cells under `under` are withheld in exports for outside readers: their value is
    replaced by None and the cell's name listed in the row's `suppressed`; the durations
    of a row whose count is withheld go with it (they would describe a handful of people)."""

    under: int
    count: str
    withheld_with_count: tuple[str, ...] = ()

    def apply(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            if 0 < row[self.count] < self.under:
                row = {**row, self.count: None,
                       **{m: None for m in self.withheld_with_count if m in row}}
                row["suppressed"] = [self.count, *[m for m in self.withheld_with_count
                                                   if m in row]]
            out.append(row)
        return out

    def marker(self) -> str:
        return f"<{self.under}"
