"""What operators see of the event flow: plain rules, no Flask, no bus.

Journal entries keep an event's metadata and a masked copy of its payload; traces put a
flow's events in causal order with where the time went; the referral projection keeps what
the referral service's events said about each referral (its status, partner and passed
deadlines); alerts compare readings with thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from shared.events.envelope import SOURCE_PREFIX, Envelope

MASK = "•••"
# Keys whose values are about a person; everything under them is masked for operators.
PERSONAL_KEYS = frozenset({
    "person", "household", "members", "contact", "address", "given_name", "given_names",
    "family_name", "previous_names",
    "name", "names", "birth_date", "birth_place", "phone", "email", "street", "postcode",
    "note", "notes", "reason", "reason_text", "comment", "message", "languages", "nationality",
    "nationalities", "data", "application", "form"})


def mask(value: Any, key: str | None = None) -> Any:
    """The payload with every personal value replaced; ids, types, codes and times stay."""
    if key in PERSONAL_KEYS and value not in (None, "", [], {}):
        return _blank(value)
    if isinstance(value, Mapping):
        return {k: mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def _blank(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank(v) for v in value]
    return MASK


def producer_of(envelope: Envelope) -> str:
    return envelope.source.removeprefix(SOURCE_PREFIX).split("/")[0] or envelope.source


def journal_entry(envelope: Envelope, recorded_at: datetime) -> dict[str, Any]:
    """A journal row: what an operator may filter by, and the masked payload."""
    data = envelope.data
    intake_id = data.get("intake_id") or (envelope.subject.split("/", 1)[1]
                                          if envelope.subject.startswith("intake/") else None)
    referral_id = data.get("referral_id") or (envelope.subject.split("/", 1)[1]
                                              if envelope.subject.startswith("referral/")
                                              else None)
    return {"event_id": envelope.id, "type": envelope.type,
            "schemaversion": envelope.schemaversion, "service": producer_of(envelope),
            "subject": envelope.subject[:200], "correlation_id": envelope.correlationid,
            "causation_id": envelope.causationid,
            "intake_id": _short(intake_id, 36), "referral_id": _short(referral_id, 36),
            "intake_reference": _short(intake_reference(envelope.type, data), 20),
            "partner": _short(data.get("partner"), 40), "status": _short(data.get("status"), 30),
            "occurred_at": envelope.time, "recorded_at": recorded_at, "data": mask(data)}


def intake_reference(event_type: str, data: dict[str, Any]) -> Any:
    """The LT reference an event names: the intake's own, or the one a referral carries."""
    return data.get("reference") if event_type == "intake.recorded" else \
        data.get("intake_reference")


def _short(value: Any, length: int) -> str | None:
    return str(value)[:length] if isinstance(value, (str, int)) and value != "" else None


@dataclass(frozen=True)
class Handling:
    """One subscriber's processing of an event: when it committed its first answer."""

    subscriber: str
    processed_at: datetime


def answers(events: Iterable[dict[str, Any]], subscriber_of: Callable[[str, str], str | None]
            ) -> dict[str, list[Handling]]:
    """Who handled which of these events when, as the journal shows it: an event caused by
    another was committed by the handler of its producer that subscribes to the cause's type
    (`subscriber_of(service, event_type)`; the producer's name if none does, e.g. a timer
    that continued the flow), at the time of the first event that handler produced for it.
    A handler that answered with no event does not appear."""
    by_id = {e["event_id"]: e for e in events}
    first: dict[tuple[str, str], datetime] = {}
    for e in by_id.values():
        cause = by_id.get(e.get("causation_id"))
        if cause is None:
            continue
        key = (cause["event_id"],
               subscriber_of(e["service"], cause["type"]) or e["service"])
        if key not in first or e["occurred_at"] < first[key]:
            first[key] = e["occurred_at"]
    found: dict[str, list[Handling]] = {}
    for (event_id, subscriber), at in sorted(first.items(), key=lambda kv: kv[1]):
        found.setdefault(event_id, []).append(Handling(subscriber, at))
    return found


def causal_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents before children; siblings (and unrelated roots) by the time they occurred."""
    by_id = {e["event_id"]: e for e in events}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for e in events:
        parent = e.get("causation_id") if e.get("causation_id") in by_id else None
        children.setdefault(parent, []).append(e)
    ordered: list[dict[str, Any]] = []
    stack = sorted(children.get(None, []), key=_when, reverse=True)
    while stack:
        event = stack.pop()
        ordered.append(event)
        stack.extend(sorted(children.get(event["event_id"], []), key=_when, reverse=True))
    return ordered


def _when(event: dict[str, Any]) -> tuple[datetime, str]:
    return (event["occurred_at"], event["event_id"])


def trace(events: list[dict[str, Any]],
          handled: Mapping[str, Iterable[Handling]]) -> dict[str, Any]:
    """A flow's events in causal order, each with where the time went:
    `after_cause_ms` from its cause's commit to its own (queueing, handling, commit),
    `to_bus_ms` from its commit to its arrival on the bus (outbox relay and broker),
    and the subscribers that processed it, `ms` after it occurred."""
    ordered = causal_order(events)
    if not ordered:
        return {"events": [], "referrals": {}, "duration_ms": 0}
    start = min(e["occurred_at"] for e in ordered)
    by_id = {e["event_id"]: e for e in ordered}
    depth: dict[str, int] = {}
    rows = []
    for e in ordered:
        cause = by_id.get(e.get("causation_id"))
        depth[e["event_id"]] = depth[cause["event_id"]] + 1 if cause else 0
        rows.append({
            "event_id": e["event_id"], "type": e["type"], "service": e["service"],
            "subject": e["subject"], "causation_id": e.get("causation_id"),
            "correlation_id": e["correlation_id"], "partner": e.get("partner"),
            "status": e.get("status"), "depth": depth[e["event_id"]],
            "occurred_at": e["occurred_at"].isoformat(),
            "at_ms": _ms(e["occurred_at"] - start),
            "after_cause_ms": _ms(e["occurred_at"] - cause["occurred_at"]) if cause else None,
            "to_bus_ms": _ms(e["recorded_at"] - e["occurred_at"]) if e.get("recorded_at")
            else None,
            "handled_by": [{"subscriber": h.subscriber,
                            "ms": _ms(h.processed_at - e["occurred_at"])}
                           for h in sorted(handled.get(e["event_id"], ()),
                                           key=lambda h: h.processed_at)],
        })
    end = max([e["occurred_at"] for e in ordered]
              + [h.processed_at for hs in handled.values() for h in hs])
    return {"events": rows, "referrals": referral_states(ordered),
            "duration_ms": _ms(end - start)}


def referral_states(events: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest known status of each referral in these events."""
    states: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=_when):
        rid = e.get("referral_id")
        if rid and e.get("status"):
            states[rid] = {"status": e["status"], "partner": e.get("partner")
                           or states.get(rid, {}).get("partner"),
                           "since": e["occurred_at"].isoformat(), "by_event": e["type"]}
    return states


def _ms(delta: timedelta) -> float:
    return round(delta.total_seconds() * 1000, 1)


# --- the referral projection ----------------------------------------------------------------
# What the console knows of each referral, from the referral service's events only: ids,
# codes and times (nothing about the person). Events of one referral may arrive out of order
# (several consumer threads, retries), so the rules do not depend on it: a status comes with
# the referral's version (the higher wins; a deadline notice, which has none, only fills in a
# status not known yet), passed deadlines and the start of the work phase are times (the
# latest, the earliest). Batches and single events, however grouped, end in the same row.

REFERRAL_EVENTS = ("referral.requested", "referral.status_changed", "referral.reminder_due",
                   "referral.overdue")
# the statuses the referral service counts as open for "overdue" (draft and terminal are not)
OPEN_STATUSES = ("requested", "received", "accepted", "in-progress", "on-hold")
# the completion phase (services/referral/deadlines.py): entering it the first time starts a
# new clock, so an acknowledgement deadline passed before no longer counts
WORK_STATUSES = ("accepted", "in-progress")


@dataclass(frozen=True)
class ReferralFacts:
    """What events told about one referral (a projection row without its bookkeeping)."""

    referral_id: str
    partner: str | None = None
    status: str | None = None
    version: int | None = None  # the referral's version of `status`; None: a deadline notice's
    status_at: datetime | None = None
    work_since: datetime | None = None  # first entry into the completion phase
    ack_overdue_since: datetime | None = None  # latest notice: acknowledgement overdue
    completion_overdue_since: datetime | None = None  # latest notice: completion overdue

    @property
    def overdue(self) -> bool:
        """Open and past a deadline of the phase it is in (as the referral service's
        `overdue_since`; the same condition as projection.overdue_condition in SQL)."""
        if self.status not in OPEN_STATUSES:
            return False
        if self.completion_overdue_since is not None:
            return True
        return self.ack_overdue_since is not None and (
            self.work_since is None or self.ack_overdue_since > self.work_since)


def referral_facts(envelope: Envelope) -> ReferralFacts | None:
    """What one event says about its referral (None: not a referral event)."""
    if envelope.type not in REFERRAL_EVENTS:
        return None
    d = envelope.data
    if not d.get("referral_id"):
        return None
    at = _time(d.get("changed_at") or d.get("requested_at") or d.get("noticed_at"),
               envelope.time)
    facts = ReferralFacts(str(d["referral_id"]), partner=_short(d.get("partner"), 40),
                          status=_short(d.get("status"), 30), status_at=at)
    if envelope.type in ("referral.requested", "referral.status_changed"):
        version = d.get("version")
        facts = replace(facts, version=version if isinstance(version, int) else None,
                        work_since=at if facts.status in WORK_STATUSES else None)
    elif envelope.type == "referral.overdue" and d.get("phase") == "completion":
        facts = replace(facts, completion_overdue_since=at)
    elif envelope.type == "referral.overdue":
        facts = replace(facts, ack_overdue_since=at)
    return facts


def _time(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return default
    return moment if moment.tzinfo is not None else default


def takes_status(old: ReferralFacts, new: ReferralFacts) -> bool:
    """Does the newer fact's status replace the known one? A higher version does; a
    deadline notice (no version) only fills in a status not known yet."""
    return new.status is not None and (old.status is None or (
        new.version is not None and (old.version is None or new.version > old.version)))


def merged(old: ReferralFacts | None, new: ReferralFacts) -> ReferralFacts:
    """Two facts about one referral as one (projection.apply_referral_facts does the same
    in SQL)."""
    if old is None:
        return new
    source = new if takes_status(old, new) else old
    return ReferralFacts(
        old.referral_id, partner=source.partner, status=source.status,
        version=source.version, status_at=source.status_at,
        work_since=_earliest(old.work_since, new.work_since),
        ack_overdue_since=_latest(old.ack_overdue_since, new.ack_overdue_since),
        completion_overdue_since=_latest(old.completion_overdue_since,
                                         new.completion_overdue_since))


def fold(facts: Iterable[ReferralFacts | None]) -> dict[str, ReferralFacts]:
    """Facts in delivery order, one per referral."""
    out: dict[str, ReferralFacts] = {}
    for f in facts:
        if f is not None:
            out[f.referral_id] = merged(out.get(f.referral_id), f)
    return out


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return a if b is None else b if a is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return a if b is None else b if a is None else max(a, b)


# --- alerts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Thresholds:
    """When a reading becomes an alert (configuration: LOTSE_ALERT_* variables)."""

    outbox_lag_seconds: float = 60.0      # oldest unpublished event of a service
    consumer_lag_messages: int = 1000     # messages waiting in one queue
    parked_messages: int = 1              # dead letters waiting for an operator
    overdue_referrals: int = 1            # referrals past their partner's deadline
    open_circuits: int = 1                # partners whose circuit breaker is open


@dataclass(frozen=True)
class Alert:
    key: str
    kind: str
    message: str
    value: str


# Alerts about what the console could not reach: shown by the overview as soon as it sees
# them, whether or not the console's loop has recorded them yet.
LIVE_KINDS = frozenset({"broker_unreachable", "database_unreachable"})


def evaluate(readings: Mapping[str, Any], limits: Thresholds,
             loop_failures: Mapping[str, str] | None = None) -> list[Alert]:
    """Every reading at or over its threshold, every dependency that could not be reached
    and every failing step of the console's own loop, as alerts with stable keys."""
    alerts = []
    for what, error in sorted(readings.get("unreachable", {}).items()):
        if what == "broker":
            alerts.append(Alert("broker_unreachable", "broker_unreachable",
                                f"broker unreachable: {error}", "0"))
        else:
            service = what.removeprefix("database:")
            alerts.append(Alert(f"database_unreachable:{service}", "database_unreachable",
                                f"{service}: database unreachable: {error}", "0"))
    if loop_failures:
        alerts.append(Alert("console_loop", "console_loop", "operator console loop failing: "
                            + "; ".join(f"{step}: {error}" for step, error
                                        in sorted(loop_failures.items())),
                            str(len(loop_failures))))
    for service, outbox in readings.get("outboxes", {}).items():
        lag = outbox.get("oldest_pending_seconds") or 0.0
        if lag >= limits.outbox_lag_seconds:
            alerts.append(Alert(f"outbox_lag:{service}", "outbox_lag",
                                f"{service}: oldest unpublished event waits {lag:.0f} s "
                                f"({outbox.get('pending', 0)} pending)", f"{lag:.0f}"))
    for queue, waiting in readings.get("queues", {}).items():
        if waiting is not None and waiting >= limits.consumer_lag_messages:
            alerts.append(Alert(f"consumer_lag:{queue}", "consumer_lag",
                                f"{queue}: {waiting} messages waiting", str(waiting)))
    parked = readings.get("parked") or 0
    if parked >= limits.parked_messages:
        alerts.append(Alert("dead_letters", "dead_letters",
                            f"{parked} parked message(s) wait for an operator", str(parked)))
    overdue = readings.get("overdue_referrals") or 0
    if overdue >= limits.overdue_referrals:
        alerts.append(Alert("overdue_referrals", "overdue_referrals",
                            f"{overdue} referral(s) past their partner's deadline", str(overdue)))
    open_circuits = [p for p, s in readings.get("circuits", {}).items() if s == "open"]
    if len(open_circuits) >= limits.open_circuits:
        alerts.append(Alert("open_circuits", "open_circuits",
                            "circuit open for " + ", ".join(sorted(open_circuits)),
                            str(len(open_circuits))))
    return alerts
