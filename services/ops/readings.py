"""What the console reads from the rest of the network, read-only, without its tables.

The console's figures about the referrals come from the events it journals (projection.py).
Figures about a service's own machinery come from what the service exports: each relay's
outbox backlog and each case opener's partner circuits as Prometheus metrics
(shared/metrics.py), read from this process's registry (embedded mode: every relay and the
case opener run here) and from the `/metrics` of the processes LOTSE_OPS_METRICS_URLS names
(distributed: the relays' and the partner adapter worker's metrics ports, or Prometheus's
`/federate`). Queue figures come from RabbitMQ's management API, or from the embedded bus's
own counters. Of the other services' databases the console only asks whether they answer
(`SELECT 1`, for the alert `database_unreachable`).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping
from urllib.parse import quote, urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from shared import metrics
from shared.bus.topology import Topology
from shared.config import Settings
from shared.db import make_engine

BUS_SERVICES = ("intake", "referral", "partner_adapter", "ops", "reporting")
OUTBOX_PENDING = "lotse_outbox_pending"
OUTBOX_OLDEST = "lotse_outbox_oldest_pending_seconds"
CIRCUIT_OPEN = "lotse_partner_circuit_open"
METRICS_URLS = "LOTSE_OPS_METRICS_URLS"


class Databases:
    """Handles on each bus service's database, one engine per database (in embedded mode the
    services' own engines; distributed, usually one shared database): only to ask whether it
    answers, and to truncate an SQLite write-ahead log after an erasure (erasure.compact)."""

    def __init__(self, settings: Settings, engines: dict[str, Engine] | None = None):
        self.settings, self._by_service = settings, dict(engines or {})
        self._by_url: dict[str, Engine] = {}

    def __call__(self, service: str) -> Engine:
        if service not in self._by_service:
            url = self.settings.for_service(service).database_url
            if url not in self._by_url:
                self._by_url[url] = make_engine(url)
            self._by_service[service] = self._by_url[url]
        return self._by_service[service]


def unreachable_databases(db: Databases) -> dict[str, str]:
    """The bus services whose database does not answer `SELECT 1`, with why (a connectivity
    probe: no table of theirs is read)."""
    down = {}
    for service in BUS_SERVICES:
        try:
            with db(service).connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # a service's database being down is itself worth showing
            down[service] = why(exc)
    return down


def why(exc: BaseException) -> str:
    """An error as an operator reads it: its type and first words, no traceback."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


Sample = tuple[str, Mapping[str, str], float]  # name, labels, value


@dataclass
class ServiceMetrics:
    """The Prometheus samples the console reads: this process's own (`local`) and those of
    the `/metrics` (or Prometheus `/federate`) addresses in `urls`."""

    urls: tuple[str, ...] = ()
    local: bool = True
    timeout: float = 2.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ServiceMetrics":
        """LOTSE_OPS_METRICS_URLS: addresses separated by commas or spaces."""
        raw = environ.get(METRICS_URLS, "")
        return cls(tuple(u for u in raw.replace(",", " ").split() if u))

    def samples(self, names: Iterable[str]) -> tuple[list[Sample], dict[str, str]]:
        """The samples of these metrics, and why an address could not be read."""
        wanted, found, errors = set(names), [], {}
        if self.local:
            for family in metrics.registry().collect():
                found += [(s.name, s.labels, s.value) for s in family.samples
                          if s.name in wanted]
        for url in self.urls:
            try:
                answer = requests.get(url, timeout=self.timeout)
                answer.raise_for_status()
                found += [(s.name, s.labels, s.value) for family
                          in text_string_to_metric_families(answer.text)
                          for s in family.samples if s.name in wanted]
            except Exception as exc:  # one process down: the others' figures still count
                errors[url] = why(exc)
        return found, errors


def _largest(samples: list[Sample], name: str, label: str) -> dict[str, float]:
    """Per value of `label`, the largest sample (several relays or case openers of one
    service each report the same table, or their own breakers: the worst counts)."""
    out: dict[str, float] = {}
    for sample_name, labels, value in samples:
        key = labels.get(label)
        if sample_name == name and key is not None:
            out[key] = max(value, out.get(key, value))
    return out


def outboxes(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """Per bus service, its outbox backlog as its relay last sampled it; None when no relay
    of it reported (not 0: unknown)."""
    pending = _largest(samples, OUTBOX_PENDING, "service")
    oldest = _largest(samples, OUTBOX_OLDEST, "service")
    return {s: {"pending": int(pending[s]) if s in pending else None,
                "oldest_pending_seconds": oldest.get(s)} for s in BUS_SERVICES}


def circuits(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    """The worst state per partner among the case openers that reported."""
    return {partner: {"state": "open" if value >= 1 else "half-open" if value > 0
                      else "closed"}
            for partner, value in sorted(_largest(samples, CIRCUIT_OPEN, "partner").items())}


@dataclass
class QueueFigures:
    """Per queue: ready, unacked, parked, consumers and rates (messages per second)."""

    settings: Settings
    topology: Topology
    broker: Any = None  # the embedded broker, in embedded mode
    _last: tuple[float, dict] | None = None
    _rates: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self) -> dict[str, dict[str, Any]]:
        return self.survey()[0]

    def survey(self) -> tuple[dict[str, dict[str, Any]], str | None]:
        """The figures, and why the broker could not be asked (then no figures): RabbitMQ's
        management API, else passive declares over AMQP; the embedded bus's table."""
        try:
            if self.settings.embedded:
                return self._embedded(), None
            try:
                return self._management(), None
            except Exception:
                return self._passive(), None
        except Exception as exc:
            return {}, why(exc)

    def _names(self) -> list[str]:
        return [self.topology.queue(s) for s in self.topology.subscriptions]

    def _embedded(self) -> dict[str, dict[str, Any]]:
        from shared.bus.embedded import bus_messages as t

        if self.broker is None:  # this process has no embedded bus to count
            from shared.bus.embedded import EmbeddedBroker

            self.broker = EmbeddedBroker(self.settings.bus_url, self.topology)
        engine = self.broker.engine
        with engine.connect() as conn:
            rows = conn.execute(select(t.c.queue, t.c.status, t.c.lease_until.is_(None),
                                       func.count()).group_by(
                t.c.queue, t.c.status, t.c.lease_until.is_(None))).all()
        figures = {n: {"ready": 0, "unacked": 0, "parked": 0, "consumers": 0}
                   for n in self._names()}
        for queue, status, free, n in rows:
            f = figures.setdefault(queue, {"ready": 0, "unacked": 0, "parked": 0,
                                           "consumers": 0})
            key = "parked" if status == "parked" else ("ready" if free else "unacked")
            f[key] += n
        counts = dict(self.broker.counts) if self.broker is not None else {}
        rates = self._rates_from(counts)
        for name, f in figures.items():
            f["consumers"] = self.broker.consumers.get(name, 0) if self.broker else 0
            for kind in ("published", "delivered", "acked"):
                f[f"{kind}_rate"] = rates.get((kind, name), 0.0)
        return figures

    def _rates_from(self, counts: dict) -> dict:
        """Rates over the interval since the previous reading (at least a second apart)."""
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last[0] >= 1.0:
                if self._last is not None:
                    dt = now - self._last[0]
                    self._rates = {k: round((v - self._last[1].get(k, 0)) / dt, 2)
                                   for k, v in counts.items()}
                self._last = (now, counts)
            return self._rates

    def _management(self) -> dict[str, dict[str, Any]]:
        base, auth, vhost = management_api(self.settings)
        answer = requests.get(f"{base}/api/queues/{quote(vhost, safe='')}", auth=auth,
                              timeout=3, params={"columns": ",".join(MANAGEMENT_COLUMNS)})
        answer.raise_for_status()
        by_name = {q["name"]: q for q in answer.json()}
        figures = {}
        for name in self._names():
            q = by_name.get(name, {})
            stats = q.get("message_stats") or {}
            parked = by_name.get(name + ".parked", {})
            figures[name] = {
                "ready": q.get("messages_ready", 0), "unacked": q.get("messages_unacknowledged", 0),
                "parked": parked.get("messages", 0), "consumers": q.get("consumers", 0),
                "published_rate": _rate(stats, "publish"),
                "delivered_rate": _rate(stats, "deliver_get"), "acked_rate": _rate(stats, "ack")}
        return figures

    def _passive(self) -> dict[str, dict[str, Any]]:
        """Without the management plugin: depth and consumers by passive declare."""
        from shared.bus.amqp import amqp_connection

        figures = {}
        with amqp_connection(self.settings, heartbeat=0) as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.channel()
            for name in self._names():
                ok = channel.queue_declare(name, passive=True)
                parked = channel.queue_declare(name + ".parked", passive=True)
                figures[name] = {"ready": ok.message_count, "unacked": None,
                                 "parked": parked.message_count,
                                 "consumers": ok.consumer_count, "published_rate": None,
                                 "delivered_rate": None, "acked_rate": None}
        return figures


MANAGEMENT_COLUMNS = ("name", "messages", "messages_ready", "messages_unacknowledged",
                      "consumers", "message_stats.publish_details.rate",
                      "message_stats.deliver_get_details.rate", "message_stats.ack_details.rate")


def _rate(stats: dict, kind: str) -> float:
    return float((stats.get(f"{kind}_details") or {}).get("rate", 0.0))


def management_api(settings: Settings) -> tuple[str, tuple[str, str], str]:
    """RabbitMQ's management API: LOTSE_RABBITMQ_MANAGEMENT_URL, or the broker's host on
    port 15672 with the broker's credentials."""
    url = urlsplit(settings.broker_url)
    base = settings.management_url or f"http://{url.hostname or '127.0.0.1'}:15672"
    vhost = (url.path[1:] if url.path and url.path != "/" else "/") or "/"
    return base.rstrip("/"), (url.username or "guest", url.password or "guest"), vhost
