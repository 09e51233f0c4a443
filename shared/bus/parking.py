"""The parking queues seen from the operator's side: collect what is parked, put it back.

`collect` hands a batch of parked messages to `store` (which commits them somewhere safe,
the console's dead-letter table) and only then removes them from the parking queue: a crash
in between leaves them parked and they are collected again (the store deduplicates by queue
and event id). `requeue` puts a message back into its own work queue, and only that one,
so the other subscribers of the event are not disturbed; the consumer's inbox makes a
replay of an already processed event a no-op.
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

from shared.bus.causes import ParkCause, parked
from shared.bus.topology import Topology
from shared.config import Settings

if TYPE_CHECKING:  # for annotations only: each transport is imported where it is used
    from kombu.connection import Connection

    from shared.bus.embedded import EmbeddedBroker


@dataclass(frozen=True)
class ParkedMessage:
    queue: str  # the work queue it was parked from
    event_id: str
    event_type: str
    body: str
    reason: str
    attempts: int


Store = Callable[[Sequence[ParkedMessage]], None]


class ParkingLot(Protocol):
    def collect(self, store: Store, limit: int = 200) -> int:
        """Move up to `limit` parked messages per queue into `store`; returns how many."""

    def requeue(self, message: ParkedMessage) -> None:
        """Put the message at the end of its own work queue, attempts reset."""


def as_text(body: str | bytes) -> str:
    """A parked body as storable text, whatever bytes a poison message brought: undecodable
    bytes and NUL (which PostgreSQL text refuses, and which would stop the collector on that
    message for good) become U+FFFD."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text.replace("\x00", "\ufffd")


def describe(body: str | bytes, fallback_id: str = "") -> tuple[str, str]:
    """(event id, event type) of a parked body, whatever state it is in."""
    text = as_text(body)
    try:
        raw = json.loads(text)
        if isinstance(raw, dict):  # JSON may spell a NUL as \u0000
            return (as_text(str(raw.get("id") or fallback_id or _digest(text)))[:64],
                    as_text(str(raw.get("type") or "?"))[:100])
    except ValueError:
        pass
    return (fallback_id or _digest(text))[:64], "?"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:50]


class EmbeddedParkingLot:
    """Parked rows of the embedded bus store."""

    def __init__(self, broker: EmbeddedBroker):
        self.broker = broker

    def collect(self, store: Store, limit: int = 200) -> int:
        from sqlalchemy import delete, select

        from shared.bus.embedded import bus_messages as t

        with self.broker.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.status == "parked")
                                .order_by(t.c.id).limit(limit)).all()
        if not rows:
            return 0
        store([ParkedMessage(queue=r.queue, event_id=describe(r.body, r.event_id)[0],
                             event_type=describe(r.body)[1], body=r.body,
                             reason=r.reason or "parked", attempts=r.attempts) for r in rows])
        with self.broker.engine.begin() as conn:
            conn.execute(delete(t).where(t.c.id.in_([r.id for r in rows]),
                                         t.c.status == "parked"))
        return len(rows)

    def requeue(self, message: ParkedMessage) -> None:
        from shared.bus.embedded import bus_messages as t

        now = self.broker.clock()
        with self.broker.engine.begin() as conn:
            conn.execute(t.insert().values(
                queue=message.queue, event_id=message.event_id, routing_key=message.event_type,
                body=message.body, status="ready", attempts=0, available_at=now,
                created_at=now))
        self.broker.published.set()


class AmqpParkingLot:
    """Parking queues on RabbitMQ: fetched with basic.get, acked after the store commits."""

    def __init__(self, settings: Settings, topology: Topology):
        self.settings, self.topology = settings, topology
        # one confirm connection for all requeues, reopened on error
        self._producer_conn: Connection | None = None
        self._lock = threading.Lock()

    def collect(self, store: Store, limit: int = 200) -> int:
        from kombu.entity import Queue

        from shared.bus.amqp import ATTEMPTS_HEADER, REASON_HEADER, amqp_connection

        total = 0
        with amqp_connection(self.settings, heartbeat=0) as conn:
            conn.ensure_connection(max_retries=2)
            channel = conn.channel()
            for sub in self.topology.subscriptions:
                name = self.topology.parking_queue(sub)
                queue = Queue(name, durable=True,
                              queue_arguments=self.topology._args(name))(channel)
                queue.declare()  # idempotent: a missing queue must not stop the others
                fetched: list[Any] = []  # kombu Messages
                while len(fetched) < limit:
                    message = queue.get(no_ack=False, accept=None)
                    if message is None:
                        break
                    fetched.append(message)
                if not fetched:
                    continue
                parked = []
                for m in fetched:
                    headers = dict(m.headers or {})
                    body = as_text(m.body)
                    event_id, event_type = describe(body, m.properties.get("message_id") or "")
                    reason = as_text(str(headers.get(REASON_HEADER) or _death_reason(headers)))
                    parked.append(ParkedMessage(
                        queue=self.topology.queue(sub), event_id=event_id,
                        event_type=event_type, body=body, reason=str(reason),
                        attempts=int(headers.get(ATTEMPTS_HEADER, 0) or 0)))
                try:
                    store(parked)
                except Exception:
                    channel.basic_recover(requeue=True)
                    raise
                channel.basic_ack(fetched[-1].delivery_tag, multiple=True)
                total += len(fetched)
        return total

    def requeue(self, message: ParkedMessage) -> None:
        from kombu.messaging import Producer

        from shared.bus.amqp import RETRY_POLICY, amqp_connection
        from shared.events.envelope import CONTENT_TYPE

        with self._lock:
            if self._producer_conn is None:
                self._producer_conn = amqp_connection(self.settings, heartbeat=0,
                                                      confirm=True)
            conn = self._producer_conn
            try:
                Producer(conn).publish(
                    message.body.encode("utf-8"), exchange="", routing_key=message.queue,
                    content_type=CONTENT_TYPE, content_encoding="utf-8",
                    message_id=message.event_id, type=message.event_type, delivery_mode=2,
                    retry=True, retry_policy=RETRY_POLICY, timestamp=int(time.time()),
                    confirm_timeout=self.settings.confirm_timeout)
            except Exception:
                conn.release()
                self._producer_conn = None
                raise


def _death_reason(headers: dict[str, Any]) -> str:
    deaths = headers.get("x-death") or []
    if deaths:
        d = deaths[0]
        return parked(ParkCause.BROKER, f"dead-lettered by the broker ({d.get('reason', '?')}, "
                      f"{d.get('count', '?')} deliveries): the consumer never gave a verdict")
    return parked(ParkCause.UNKNOWN, "parked without a reason")


def parking_lot(settings: Settings, topology: Topology,
                broker: EmbeddedBroker | None = None) -> ParkingLot:
    if settings.embedded:
        if broker is None:
            from shared.bus.embedded import EmbeddedBroker

            broker = EmbeddedBroker(settings.bus_url, topology)
        return EmbeddedParkingLot(broker)
    return AmqpParkingLot(settings, topology)
