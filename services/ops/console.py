"""The operator console's use cases, shared by its web API, its UI and `lotse ops`."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import Engine

from services.ops import dead_letters, domain, erasure, projection, readings, tables
from shared import metrics
from shared.bus.parking import ParkingLot
from shared.bus.topology import Topology
from shared.clock import Clock, utcnow
from shared.config import Settings

log = logging.getLogger(__name__)
j = tables.journal
FILTERS = ("type", "service", "partner", "correlation_id")
JOURNAL = "ops.journal"


def _row(r) -> dict[str, Any]:
    return {"seq": r.id, "event_id": r.event_id, "type": r.type,
            "schemaversion": r.schemaversion, "service": r.service, "subject": r.subject,
            "correlation_id": r.correlation_id, "causation_id": r.causation_id,
            "intake_id": r.intake_id, "referral_id": r.referral_id, "partner": r.partner,
            "status": r.status, "occurred_at": r.occurred_at.isoformat(),
            "recorded_at": r.recorded_at.isoformat(), "data": r.data}


def recent_events(engine: Engine, filters: dict[str, str], after: int | None = None,
                  limit: int = 100) -> list[dict]:
    """Newest first without `after`; with `after` (a seq), what came since, oldest first."""
    query = select(j)
    for key in FILTERS:
        if filters.get(key):
            column = j.c[key]
            query = query.where(column.like(filters[key].replace("*", "%"))
                                if "*" in filters[key] else column == filters[key])
    if after is not None:
        query = query.where(j.c.id > after).order_by(j.c.id).limit(limit)
    else:
        query = query.order_by(j.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def last_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.max(j.c.id))).scalar() or 0


class NothingToTrace(LookupError):
    pass


def trace(engine: Engine, topology: Topology, any_id: str) -> dict[str, Any]:
    """Every event of the flows an intake (its id or LT reference), referral or event id
    belongs to, in causal order, with the handlers that answered each (from the journal
    alone)."""
    with engine.connect() as conn:
        seeds = conn.execute(select(j).where(or_(
            j.c.event_id == any_id, j.c.intake_id == any_id, j.c.referral_id == any_id,
            j.c.correlation_id == any_id, j.c.intake_reference == any_id.upper()))).all()
        if not seeds:
            raise NothingToTrace(f"no event, intake, intake reference or referral {any_id!r} "
                                 "in the journal")
        intakes = {r.intake_id for r in seeds if r.intake_id}
        referral_ids = {r.referral_id for r in seeds if r.referral_id}
        if intakes:  # an intake's referrals, and the events about them
            referral_ids |= {r.referral_id for r in conn.execute(
                select(j.c.referral_id).where(j.c.intake_id.in_(intakes),
                                              j.c.referral_id.is_not(None)))}
        correlations = {r.correlation_id for r in seeds}
        if referral_ids:
            correlations |= {r.correlation_id for r in conn.execute(
                select(j.c.correlation_id).where(j.c.referral_id.in_(referral_ids)))}
        rows = conn.execute(select(j).where(j.c.correlation_id.in_(correlations))).all()
    events = [{"event_id": r.event_id, "type": r.type, "service": r.service,
               "subject": r.subject, "causation_id": r.causation_id,
               "correlation_id": r.correlation_id, "intake_id": r.intake_id,
               "referral_id": r.referral_id, "partner": r.partner, "status": r.status,
               "occurred_at": r.occurred_at, "recorded_at": r.recorded_at} for r in rows]
    result = domain.trace(events, domain.answers(events, subscriber_of(topology)))
    result["query"] = any_id
    return result


def subscriber_of(topology: Topology):
    """(service, event type) -> the subscription of that service handling that type (the
    journal aside: it takes every type and answers none)."""
    keys = {(sub.service, event_type): sub.key for sub in topology.subscriptions
            if sub.key != JOURNAL for event_type in sub.event_types}
    return lambda service, event_type: keys.get((service, event_type))


def charts(engine: Engine, window: str, clock: Clock = utcnow) -> dict[str, Any]:
    """Events produced and failures per service, in buckets over the last hour or day."""
    span, bucket = ((timedelta(hours=1), 60) if window == "hour"
                    else (timedelta(days=1), 1800))
    now = clock()
    since = now - span
    n = int(span.total_seconds() // bucket)
    series: dict[str, dict[str, list[int]]] = {}

    def slot(moment: datetime) -> int:
        return min(n - 1, max(0, int((moment - since).total_seconds() // bucket)))

    with engine.connect() as conn:
        for service, occurred, event_type in conn.execute(
                select(j.c.service, j.c.occurred_at, j.c.type).where(j.c.occurred_at >= since)):
            s = series.setdefault(service, {"events": [0] * n, "errors": [0] * n})
            s["events"][slot(occurred)] += 1
            if event_type.endswith(".failed"):
                s["errors"][slot(occurred)] += 1
        t = tables.dead_letters
        for service, parked in conn.execute(select(t.c.service, t.c.parked_at)
                                            .where(t.c.parked_at >= since)):
            s = series.setdefault(service, {"events": [0] * n, "errors": [0] * n})
            s["errors"][slot(parked)] += 1
    for s in series.values():
        total = sum(s["events"]) or 0
        s["error_rate"] = round(sum(s["errors"]) / total, 4) if total else 0.0
    return {"window": window, "bucket_seconds": bucket, "since": since.isoformat(),
            "series": series}


def topology_picture(topology: Topology, figures: dict[str, dict]) -> dict[str, Any]:
    """Services, the exchange and each service's queues with their live figures."""
    services = {}
    for sub in topology.subscriptions:
        name = topology.queue(sub)
        services.setdefault(sub.service, []).append(
            {"queue": name, "handler": sub.name, "events": list(sub.event_types),
             **figures.get(name, {})})
    return {"exchange": topology.exchange, "unrouted": topology.unrouted,
            "services": [{"service": s, "queues": qs} for s, qs in services.items()]}


def backlogs(engine: Engine, db: readings.Databases, figures: dict[str, dict],
             broker_error: str | None = None,
             service_metrics: readings.ServiceMetrics | None = None) -> dict[str, Any]:
    """The readings alerts are raised from: dead letters and overdue referrals from the
    console's own tables (the latter from the events it journalled), outbox backlogs and
    partner circuits from the services' metrics. What could not be reached is named under
    `unreachable` ("broker", "database:<service>") and its figures are None, not 0."""
    unreachable: dict[str, str] = {"broker": broker_error} if broker_error else {}
    parked: int | None
    overdue: int | None
    try:
        with engine.connect() as conn:
            parked = conn.execute(select(func.count()).select_from(tables.dead_letters).where(
                tables.dead_letters.c.status == "parked")).scalar() or 0
            overdue = projection.overdue_referrals(conn)
    except Exception as exc:
        parked = overdue = None
        unreachable["database:ops"] = readings.why(exc)
    if parked is not None:  # and those not yet collected from the parking queues
        parked += sum((f.get("parked") or 0) for f in figures.values())
    for service, error in readings.unreachable_databases(db).items():
        unreachable.setdefault(f"database:{service}", error)
    samples, unread = (service_metrics or readings.ServiceMetrics()).samples(
        (readings.OUTBOX_PENDING, readings.OUTBOX_OLDEST, readings.CIRCUIT_OPEN))
    circuits = readings.circuits(samples)
    return {"outboxes": readings.outboxes(samples),
            "queues": {q: f.get("ready") for q, f in figures.items()},
            "parked": parked, "overdue_referrals": overdue,
            "circuits": {p: c["state"] for p, c in circuits.items()},
            "circuit_details": circuits, "unreachable": unreachable,
            "metrics_unreadable": unread}


def overview_alerts(engine: Engine, current: dict[str, Any], clock: Clock = utcnow
                    ) -> list[dict]:
    """The recorded active alerts, and what this very reading could not reach (the broker,
    a database): an operator sees it at once, even with the console's loop down and with
    the console's own database unreachable."""
    try:
        shown = active_alerts(engine)
    except Exception as exc:
        log.warning("active alerts unreadable", extra={"error": readings.why(exc)})
        shown = []
    known = {a["key"] for a in shown}
    for alert in domain.evaluate(current, domain.Thresholds()):
        if alert.kind in domain.LIVE_KINDS and alert.key not in known:
            shown.append({"key": alert.key, "kind": alert.kind, "message": alert.message,
                          "value": alert.value, "raised_at": clock().isoformat(),
                          "notified": False})
    return shown


def thresholds(environ) -> domain.Thresholds:
    d = domain.Thresholds()
    return domain.Thresholds(
        outbox_lag_seconds=float(environ.get("LOTSE_ALERT_OUTBOX_LAG_SECONDS",
                                             d.outbox_lag_seconds)),
        consumer_lag_messages=int(environ.get("LOTSE_ALERT_CONSUMER_LAG",
                                              d.consumer_lag_messages)),
        parked_messages=int(environ.get("LOTSE_ALERT_PARKED", d.parked_messages)),
        overdue_referrals=int(environ.get("LOTSE_ALERT_OVERDUE", d.overdue_referrals)),
        open_circuits=int(environ.get("LOTSE_ALERT_OPEN_CIRCUITS", d.open_circuits)))


def raise_and_clear(engine: Engine, current: list[domain.Alert], clock: Clock = utcnow
                    ) -> list[domain.Alert]:
    """Record alerts: new ones raised, gone ones cleared; returns the newly raised."""
    a, now = tables.alerts, clock()
    keys = {x.key for x in current}
    raised = []
    with engine.begin() as conn:
        active = {r.key: r for r in conn.execute(select(a).where(a.c.cleared_at.is_(None)))}
        for alert in current:
            if alert.key in active:
                conn.execute(update(a).where(a.c.key == alert.key).values(
                    message=alert.message, value=alert.value))
                continue
            conn.execute(a.delete().where(a.c.key == alert.key))
            conn.execute(a.insert().values(key=alert.key, kind=alert.kind,
                                           message=alert.message, value=alert.value,
                                           raised_at=now))
            raised.append(alert)
        for key in set(active) - keys:
            conn.execute(update(a).where(a.c.key == key).values(cleared_at=now))
    return raised


def notify(engine: Engine, url: str | None, alerts: list[domain.Alert],
           clock: Clock = utcnow) -> None:
    """POST newly raised alerts to the configured webhook (best effort, marked when sent)."""
    if not url or not alerts:
        return
    try:
        answer = requests.post(url, timeout=5, json={"source": "lotse", "alerts": [
            {"key": x.key, "kind": x.kind, "message": x.message, "value": x.value}
            for x in alerts]})
        answer.raise_for_status()
    except requests.RequestException as exc:
        log.warning("alert webhook failed", extra={"error": str(exc)[:200]})
        return
    with engine.begin() as conn:
        conn.execute(update(tables.alerts).where(tables.alerts.c.key.in_(
            [x.key for x in alerts])).values(notified_at=clock()))


def active_alerts(engine: Engine) -> list[dict]:
    a = tables.alerts
    with engine.connect() as conn:
        return [{"key": r.key, "kind": r.kind, "message": r.message, "value": r.value,
                 "raised_at": r.raised_at.isoformat(),
                 "notified": r.notified_at is not None}
                for r in conn.execute(select(a).where(a.c.cleared_at.is_(None))
                                      .order_by(a.c.raised_at))]


class ConsoleLoop:
    """Background work of the console: collect parked messages, work through replay
    batches, and raise or clear alerts."""

    def __init__(self, engine: Engine, settings: Settings, lot: ParkingLot,
                 figures: readings.QueueFigures, databases: readings.Databases,
                 limits: domain.Thresholds, every: float = 2.0, alerts_every: float = 10.0,
                 service_metrics: readings.ServiceMetrics | None = None):
        self.engine, self.settings, self.lot, self.figures = engine, settings, lot, figures
        self.databases = databases
        self.service_metrics = service_metrics or readings.ServiceMetrics()
        self.limits, self.every, self.alerts_every = limits, every, alerts_every
        self.compact_until = 0.0  # after an erasure: truncate the write-ahead logs until then
        self.failures: dict[str, str] = {}  # step -> error, since the last alert check

    def run(self, stop: threading.Event) -> None:
        checked = float("-inf")
        while not stop.is_set():
            check = time.monotonic() - checked >= self.alerts_every
            if check:
                checked = time.monotonic()
            if not self.iterate(check):
                stop.wait(self.every)

    def iterate(self, check_alerts: bool = True) -> int:
        """One round; returns how much work it found. Each step on its own: one that fails
        (the broker down for the dead letters) does not keep the others, above all the alert
        check, from running. A failing step is logged, counted in Prometheus and raised as
        the alert `console_loop`."""
        busy = 0
        for step, work in (("dead_letters", self.collect), ("replays", self.replays)):
            try:
                busy += work()
            except Exception as exc:
                log.exception("operator console loop failed", extra={"step": step})
                self.failures[step] = readings.why(exc)
                metrics.console_loop_failed(step)
        if check_alerts:
            try:
                self.check_alerts()
            except Exception:
                log.exception("operator console alert check failed")
                metrics.console_loop_failed("alerts")
        return busy

    def collect(self) -> int:
        """Move parked messages into the console; finish erasures their copies held up."""
        collecting = utcnow()
        busy = dead_letters.collect(self.engine, self.lot)
        if erasure.settle(self.engine, collecting):  # parked copies were collected
            self.compact_until = time.monotonic() + erasure.COMPACT_SECONDS
        if time.monotonic() < self.compact_until:
            erasure.compact(self.erasure_engines())
        return busy

    def replays(self) -> int:
        busy = dead_letters.work_on_batches(self.engine, self.lot)
        dead_letters.finish_interrupted_replays(self.engine, self.lot)
        return busy

    def erasure_engines(self) -> list[Engine]:
        """Where copies of an erased person's data may linger on disk (embedded mode)."""
        broker = getattr(self.lot, "broker", None)
        return [self.engine, *[self.databases(s) for s in readings.BUS_SERVICES],
                *([broker.engine] if broker is not None else [])]

    def check_alerts(self) -> list[domain.Alert]:
        """Read, raise and clear the alerts (with the loop's failures since the last check),
        and hand the same readings to Prometheus, which alerts from outside this process."""
        failures, self.failures = self.failures, {}
        figures, broker_error = self.figures.survey()
        readings_now = backlogs(self.engine, self.databases, figures,
                                broker_error=broker_error,
                                service_metrics=self.service_metrics)
        unreachable = readings_now["unreachable"]
        metrics.set_console_readings(
            {("broker", ""): "broker" not in unreachable,
             **{("database", s): f"database:{s}" not in unreachable
                for s in readings.BUS_SERVICES}},
            readings_now["parked"], readings_now["overdue_referrals"])
        raised = raise_and_clear(self.engine, domain.evaluate(readings_now, self.limits,
                                                              failures))
        notify(self.engine, self.settings.alert_webhook_url, raised)
        if not failures:
            metrics.console_loop_succeeded(time.time())
        return raised
