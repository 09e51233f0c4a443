"""What the console reads from the rest of the network, read-only.

The operator's view needs every service's outbox backlog and inbox (who processed an event
when), the referral deadlines, the partner circuits and the broker's queues. Each service
keeps its own tables; the console reads them through each service's own table definitions
and never writes them. Queue figures come from RabbitMQ's management API, or from the
embedded bus's own counters.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Iterable
from urllib.parse import quote, urlsplit

import requests
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from services.ops.domain import Handling
from shared.bus.topology import Topology
from shared.config import Settings
from shared.outbox import outbox_stats
from shared.db import make_engine

BUS_SERVICES = ("intake", "referral", "partner_adapter", "ops")


def _tables(service: str):
    return __import__(f"services.{service}.tables", fromlist=["outbox"])


class Databases:
    """Read-only handles on each bus service's database, one engine per database (in
    embedded mode the services' own engines; distributed, usually one shared database)."""

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


def outboxes(db: Databases) -> dict[str, dict]:
    out = {}
    for service in BUS_SERVICES:
        try:
            out[service] = outbox_stats(db(service), _tables(service).outbox)
        except Exception as exc:  # a service's database being down is itself worth showing
            out[service] = {"error": why(exc)}
    return out


def handlings(db: Databases, event_ids: Iterable[str]) -> dict[str, list[Handling]]:
    """Who processed these events when, from every service's inbox."""
    ids = list(event_ids)
    found: dict[str, list[Handling]] = {}
    if not ids:
        return found
    for service in BUS_SERVICES:
        inbox = _tables(service).inbox
        with db(service).connect() as conn:
            for chunk in range(0, len(ids), 500):
                for r in conn.execute(select(inbox).where(
                        inbox.c.event_id.in_(ids[chunk:chunk + 500]))):
                    if r.subscriber != "ops.journal":
                        found.setdefault(r.event_id, []).append(
                            Handling(r.subscriber, r.processed_at))
    return found


def why(exc: BaseException) -> str:
    """An error as an operator reads it: its type and first words, no traceback."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def overdue_referrals(db: Databases) -> int:
    """Open referrals past their deadline (raises when the referral database is down)."""
    from services.referral.tables import referrals as r

    with db("referral").connect() as conn:
        return conn.execute(select(func.count()).select_from(r).where(and_(
            r.c.overdue_since.is_not(None),
            r.c.status.in_(("requested", "received", "accepted", "in-progress",
                            "on-hold"))))).scalar() or 0


def circuits(db: Databases, now) -> dict[str, dict[str, Any]]:
    """The worst state per partner among case openers that reported within a minute."""
    from services.partner_adapter.tables import partner_circuits as c

    rank = {"closed": 0, "half-open": 1, "open": 2}
    out: dict[str, dict[str, Any]] = {}
    with db("partner_adapter").connect() as conn:  # raises when that database is down
        rows = conn.execute(select(c).where(
            c.c.updated_at >= now - timedelta(minutes=1))).all()
    for row in rows:
        seen = out.get(row.partner)
        if seen is None or rank.get(row.state, 0) > rank.get(seen["state"], 0):
            out[row.partner] = {"state": row.state, "failures": row.failures,
                                "open_until": row.open_until.isoformat()
                                if row.open_until else None}
    return out


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
