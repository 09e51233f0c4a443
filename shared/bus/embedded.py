"""The embedded bus: a durable queue in a SQLite (or any SQL) database, for the no-server mode.

kombu's virtual transports lose a message when a consumer dies before acking (they hide or
delete it at fetch), so they cannot keep our guarantees (reliability.md §1.11). Here a
delivery is a leased row: acking deletes it, a crash lets the lease lapse (or the next start
releases it) and the row is delivered again. Publishing inserts one row per bound queue in a
single transaction, which is our publisher confirm. Retries wait in the same row until
`available_at`; parked rows stay with their reason. Routing, queue names, retry delays and the
attempt limit come from the same Topology as on RabbitMQ.
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Sequence

from sqlalchemy import (Column, Index, Integer, MetaData, String, Table, Text, delete, func,
                        or_, select, update)
from sqlalchemy.engine import Row

from shared.bus.causes import gave_up
from shared.bus.delivery import Outcome, UnitOfWorkFactory, Verdict, deliver_batch
from shared.bus.topology import Subscription, Topology
from shared.clock import Clock, utcnow
from shared.db import UTCDateTime, make_engine
from shared.outbox import OutgoingMessage
from shared.runtime import StopSignal

log = logging.getLogger(__name__)

_metadata = MetaData()
bus_messages = Table(
    "bus_messages", _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(200), nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("routing_key", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),  # ready | parked
    Column("attempts", Integer, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime),
    Column("reason", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_bus_messages_ready", "queue", "status", "available_at"),
)


class EmbeddedBroker:
    """Publisher and queue store of the embedded bus."""

    def __init__(self, url: str, topology: Topology, clock: Clock = utcnow):
        self.engine = make_engine(url)
        self.topology, self.clock = topology, clock
        # The bus store belongs to the transport, not to a service: like RabbitMQ's own
        # message store it creates its single table itself.
        _metadata.create_all(self.engine)
        self.published = threading.Event()
        # Lotse's own counters for the operator console (RabbitMQ has its management API):
        # messages in per queue, and deliveries settled per queue.
        self.counts: Counter[tuple[str, str]] = Counter()  # by (what happened, queue)
        self.consumers: Counter[str] = Counter()  # consumer loops running per queue

    def publish_batch(self, messages: Sequence[OutgoingMessage]) -> list[bool]:
        now = self.clock()
        rows: list[dict[str, Any]] = []
        for m in messages:
            for queue in self.topology.routes(m.routing_key) or [self.topology.unrouted]:
                rows.append(dict(queue=queue, event_id=m.event_id, routing_key=m.routing_key,
                                 body=m.body, status="ready", attempts=0, available_at=now,
                                 created_at=now))
        if rows:
            with self.engine.begin() as conn:
                conn.execute(bus_messages.insert(), rows)
            self.counts.update(("published", r["queue"]) for r in rows)
            self.published.set()
        return [True] * len(messages)

    def heartbeat(self) -> None:
        pass

    def close(self) -> None:
        pass

    def claim(self, queues: Sequence[str], limit: int,
              lease_seconds: float = 60.0) -> list[Row[Any]]:
        t, now = bus_messages, self.clock()
        ids = (select(t.c.id).where(t.c.queue.in_(queues), t.c.status == "ready",
                                    t.c.available_at <= now,
                                    or_(t.c.lease_until.is_(None), t.c.lease_until < now))
               .order_by(t.c.id).limit(limit))
        stmt = (update(t).where(t.c.id.in_(ids))
                .values(lease_until=now + timedelta(seconds=lease_seconds))
                .returning(t.c.id, t.c.queue, t.c.body, t.c.attempts))
        with self.engine.begin() as conn:
            return sorted(conn.execute(stmt).all(), key=lambda r: r.id)

    def ack(self, message_id: int, queue: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(bus_messages).where(bus_messages.c.id == message_id))
        if queue:
            self.counts[("acked", queue)] += 1

    def ack_all(self, message_ids: Sequence[int], queue: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(bus_messages).where(bus_messages.c.id.in_(message_ids)))
        if queue:
            self.counts[("acked", queue)] += len(message_ids)

    def retry(self, message_id: int, attempts: int, delay: float, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(bus_messages).where(bus_messages.c.id == message_id).values(
                attempts=attempts, lease_until=None, reason=reason,
                available_at=self.clock() + timedelta(seconds=delay)))

    def park(self, message_id: int, reason: str, attempts: int | None = None) -> None:
        values: dict[str, Any] = dict(status="parked", lease_until=None, reason=reason)
        if attempts is not None:
            values["attempts"] = attempts
        with self.engine.begin() as conn:
            conn.execute(update(bus_messages).where(bus_messages.c.id == message_id)
                         .values(**values))

    def replay(self, message_id: int) -> None:
        """Operator action: send a parked message through its queue again."""
        with self.engine.begin() as conn:
            conn.execute(update(bus_messages).where(bus_messages.c.id == message_id,
                                                    bus_messages.c.status == "parked")
                         .values(status="ready", attempts=0, available_at=self.clock()))

    def release_leases(self) -> None:
        """At the start of the (single) embedded process no delivery can still be in flight."""
        with self.engine.begin() as conn:
            conn.execute(update(bus_messages).where(bus_messages.c.lease_until.is_not(None))
                         .values(lease_until=None))

    def depths(self) -> dict[str, dict[str, int]]:
        t = bus_messages
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.queue, t.c.status, func.count())
                                .group_by(t.c.queue, t.c.status)).all()
        out: dict[str, dict[str, int]] = {}
        for queue, status, count in rows:
            out.setdefault(queue, {"ready": 0, "parked": 0})[status] = count
        return out

    def parked(self, queue: str | None = None) -> list[Row[Any]]:
        t = bus_messages
        query = select(t).where(t.c.status == "parked").order_by(t.c.id)
        if queue:
            query = query.where(t.c.queue == queue)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())


class EmbeddedConsumer:
    """Runs one service's subscriptions against the embedded bus with a small worker pool,
    each claimed queue's messages in batches of up to `batch` (one transaction each)."""

    def __init__(self, broker: EmbeddedBroker, subscriptions: Sequence[Subscription],
                 uow_factory: UnitOfWorkFactory, *, threads: int = 4, max_attempts: int = 6,
                 lease_seconds: float = 60.0, poll: float = 0.1, batch: int = 50):
        self.broker, self.uow_factory = broker, uow_factory
        self.topology = broker.topology
        self.by_queue = {self.topology.queue(s): s for s in subscriptions}
        self.threads, self.max_attempts = threads, max_attempts
        self.lease_seconds, self.poll, self.batch = lease_seconds, poll, max(1, batch)
        self.name = f"embedded-consumer-{uuid.uuid4().hex[:8]}"

    def run(self, stop: StopSignal) -> None:
        if not self.by_queue:
            return
        self.broker.consumers.update(list(self.by_queue))
        try:
            self._loop(stop)
        finally:
            self.broker.consumers.subtract(list(self.by_queue))

    def _loop(self, stop: StopSignal) -> None:
        inflight: set[Future[list[Outcome]]] = set()  # batches handed over, not finished
        with ThreadPoolExecutor(self.threads, thread_name_prefix="consumer") as pool:
            while not stop.is_set():
                free = self.threads * 2 - len(inflight)
                rows: list[Row[Any]] = []
                if free > 0:
                    try:
                        rows = self.broker.claim(list(self.by_queue), free * self.batch,
                                                 self.lease_seconds)
                    except Exception:
                        log.exception("embedded bus claim failed")
                        stop.wait(1.0)
                for batch in self.batches(rows):
                    future = pool.submit(self.process_batch, batch)
                    inflight.add(future)
                    future.add_done_callback(inflight.discard)
                if not rows:
                    stop.wait(self.poll)

    @staticmethod
    def _failed(future: "Future[list[Outcome]]") -> None:
        """A batch whose verdicts could not be applied (the bus store unreachable): its rows'
        leases lapse and they are delivered again (the inbox makes that harmless)."""
        exc = future.exception()
        if exc is not None:
            log.error("embedded delivery failed; its messages come again when their lease "
                      "lapses", exc_info=exc)

    def batches(self, rows: Sequence[Row[Any]]) -> list[list[Row[Any]]]:
        """Claimed rows per queue (in id order) in slices of at most `batch`."""
        per_queue: dict[str, list[Row[Any]]] = {}
        for row in rows:
            per_queue.setdefault(row.queue, []).append(row)
        return [queued[i:i + self.batch] for queued in per_queue.values()
                for i in range(0, len(queued), self.batch)]

    def process(self, row: Row[Any]) -> Outcome:
        return self.process_batch([row])[0]

    def process_batch(self, rows: Sequence[Row[Any]]) -> list[Outcome]:
        subscription = self.by_queue[rows[0].queue]
        outcomes = deliver_batch([r.body for r in rows], subscription, self.uow_factory)
        self.broker.counts[("delivered", rows[0].queue)] += len(rows)
        acked = [r.id for r, o in zip(rows, outcomes, strict=True) if o.verdict is Verdict.ACK]
        if acked:
            self.broker.ack_all(acked, rows[0].queue)
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome.verdict is Verdict.PARK:
                self.broker.park(row.id, outcome.reason, row.attempts + 1)
            elif outcome.verdict is Verdict.RETRY:
                attempts = row.attempts + 1
                if attempts >= self.max_attempts:
                    self.broker.park(row.id, gave_up(attempts, outcome.reason), attempts)
                else:
                    self.broker.retry(row.id, attempts, self.topology.retry_delay(attempts),
                                      outcome.reason)
        return outcomes
