"""RabbitMQ transport through kombu: a pipelined-confirm publisher and a pooled consumer.

kombu settings follow reliability.md §0.5: bounded retries everywhere (transport options and
retry policies), a confirm timeout on every confirmed publish, heartbeats on consumer
connections, and connections opened lazily inside the process that uses them (never before a
fork: gunicorn workers and `lotse` processes each open their own).
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import select
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, Callable, Iterator, Sequence

from kombu.connection import Connection
from kombu.message import Message
from kombu.messaging import Consumer as KombuConsumer
from kombu.messaging import Producer
from kombu.mixins import ConsumerMixin

from shared.bus.causes import ParkCause, gave_up, parked
from shared.bus.delivery import Outcome, UnitOfWorkFactory, Verdict, deliver_batch
from shared.bus.topology import Subscription, Topology
from shared.config import Settings
from shared.events.envelope import CONTENT_TYPE
from shared.outbox import OutgoingMessage
from shared.runtime import StopSignal

log = logging.getLogger(__name__)

RETRY_POLICY = {"max_retries": 3, "interval_start": 0, "interval_step": 1, "interval_max": 5}
ATTEMPTS_HEADER = "x-lotse-attempts"
REASON_HEADER = "x-lotse-reason"
# a batch back from the handler pool: its subscription, its messages, their outcomes' future
Finished = tuple[Subscription, list[Message], Future[list[Outcome]]]


def amqp_connection(settings: Settings, *, heartbeat: int | None = None,
                    confirm: bool = False) -> Connection:
    """A lazily connecting kombu Connection with bounded retries and heartbeats (and TLS for
    an amqps:// URL: docs/transport-security.md)."""
    options = dict(RETRY_POLICY, write_timeout=10)
    if confirm:
        options["confirm_publish"] = True
    return Connection(settings.broker_url, ssl=dict(settings.broker_ssl or {}) or False,
                      heartbeat=settings.heartbeat if heartbeat is None else heartbeat,
                      connect_timeout=5, transport_options=options)


def declare_topology(settings: Settings, topology: Topology) -> None:
    with amqp_connection(settings, heartbeat=0) as conn:
        conn.ensure_connection(max_retries=3)
        channel = conn.channel()
        try:
            topology.declare(channel)
        finally:
            channel.close()


class AmqpPublisher:
    """Publishes batches on one confirm-mode channel and waits for all confirms at once.

    kombu's confirm_publish waits after every message (publish-and-wait, ~2k msg/s); this
    streams a batch and then drains acks/nacks by sequence number (reliability.md §1.3).
    """

    def __init__(self, settings: Settings, topology: Topology):
        self.settings, self.topology = settings, topology
        self._conn: Connection | None = None
        self._channel: Any = None  # the transport's channel (kombu types none)
        self._seq = 0
        self._unsettled: set[int] = set()
        self._acked: set[int] = set()

    def _ensure(self) -> tuple[Connection, Any]:
        if self._conn is None or self._channel is None:
            conn = amqp_connection(self.settings)
            conn.ensure_connection(max_retries=3)
            channel = conn.channel()
            self.topology.declare(channel)
            channel.confirm_select()
            channel.events["basic_ack"].add(partial(self._settle, True))
            channel.events["basic_nack"].add(partial(self._settle, False))
            self._conn, self._channel, self._seq = conn, channel, 0
        return self._conn, self._channel

    def _settle(self, ok: bool, delivery_tag: int, multiple: bool = False) -> None:
        done = {s for s in self._unsettled if s <= delivery_tag} if multiple else {delivery_tag}
        self._unsettled -= done
        if ok:
            self._acked |= done

    def publish_batch(self, messages: Sequence[OutgoingMessage]) -> list[bool]:
        try:
            conn, channel = self._ensure()
            producer = Producer(channel, exchange=self.topology.kombu_exchange(),
                                auto_declare=False)
            seqs: list[int] = []
            self._acked.clear()
            for m in messages:
                producer.publish(m.body.encode("utf-8"), routing_key=m.routing_key,
                                 content_type=CONTENT_TYPE, content_encoding="utf-8",
                                 message_id=m.event_id, correlation_id=m.correlation_id,
                                 type=m.event_type, delivery_mode=2, retry=False,
                                 timestamp=int(time.time()))
                self._seq += 1
                self._unsettled.add(self._seq)
                seqs.append(self._seq)
            deadline = time.monotonic() + self.settings.confirm_timeout
            while any(s in self._unsettled for s in seqs):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("publisher confirms timed out")
                conn.drain_events(timeout=remaining)
            return [s in self._acked for s in seqs]
        except Exception:
            self.close()  # drop the connection and any late confirms with it
            raise

    def heartbeat(self) -> None:
        if self._conn is not None:
            try:
                self._conn.heartbeat_check()
            except Exception:
                self.close()

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        self._unsettled.clear()
        if conn is not None:
            try:
                conn.release()
            except Exception:
                pass


class AmqpConsumer(ConsumerMixin):
    """Consumes a service's subscription queues; handlers run in a thread pool.

    The consumer thread only drains, gathers each queue's messages into a batch (up to
    `worker_batch`, or what arrived within `worker_linger` of the first), hands batches to the
    pool and applies verdicts in `on_iteration`, so heartbeats keep flowing while handlers work
    and acks stay on the channel's own thread. A verdict for a message whose channel died is
    dropped: the broker redelivers it and the inbox makes the second delivery harmless.
    Retries are copies published (with confirms) to the delay queue of the attempt, parking
    is a copy to the parking queue with the reason; only then is the original acked.

    The loop waits on the broker's socket and on a wake-up pipe a handler writes to when it
    finishes, so a verdict is applied at once: while every prefetched message of a queue is
    in a handler the broker sends that queue nothing more until acks arrive, and kombu's own
    loop would apply verdicts only with the connection's next frame or after a full second.
    (Polling with a short drain timeout instead cost a core's tenth in wake-ups.)
    """

    def __init__(self, settings: Settings, topology: Topology,
                 subscriptions: Sequence[Subscription], uow_factory: UnitOfWorkFactory,
                 stop: StopSignal | None = None):
        self.settings, self.topology = settings, topology
        self.subscriptions, self.uow_factory = tuple(subscriptions), uow_factory
        self.connection = amqp_connection(settings)
        self.connect_max_retries = None  # a worker waits for the broker as long as it takes
        self.stop_event: StopSignal = threading.Event() if stop is None else stop
        self.pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="handler")
        self.results: queue.Queue[Finished] = queue.Queue()
        # per subscription: messages handed to the pool whose verdict is not applied yet
        self.in_flight: dict[str, int] = {sub.key: 0 for sub in self.subscriptions}
        # per subscription: messages received, not yet handed over, and since when
        self.gathering: dict[str, list[Message]] = {sub.key: [] for sub in self.subscriptions}
        self.gathering_since: dict[str, float] = {}
        self.batch, self.linger = max(1, settings.worker_batch), settings.worker_linger
        self._producer_conn: Connection | None = None
        self._wake_r, self._wake_w = os.pipe()  # a handler finished: a verdict to apply
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def get_consumers(self, Consumer: Callable[..., KombuConsumer],
                      channel: Any) -> list[KombuConsumer]:
        self.topology.declare(channel)
        return [Consumer(queues=[self.topology.kombu_queue(self.topology.queue(sub))],
                         on_message=partial(self._received, sub),
                         accept=[CONTENT_TYPE, "application/json"],
                         prefetch_count=self.settings.prefetch,
                         tag_prefix=f"{sub.key}|")
                for sub in self.subscriptions]

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        """kombu's default acks and drops an undecodable message; park it instead."""
        key = (message.delivery_info.get("consumer_tag") or "").split("|")[0]
        sub = next((s for s in self.subscriptions if s.key == key), None)
        if sub is None:
            log.error("undecodable message from an unknown consumer; requeueing")
            message.requeue()
            return
        self._apply(sub, message, Outcome(Verdict.PARK, parked(ParkCause.UNREADABLE,
                                                              f"undecodable message: {exc}")))

    def _received(self, subscription: Subscription, message: Message) -> None:
        gathered = self.gathering[subscription.key]
        if not gathered:
            self.gathering_since[subscription.key] = time.monotonic()
        gathered.append(message)
        if len(gathered) >= self.batch:
            self._hand_over(subscription)

    def _hand_over(self, subscription: Subscription) -> None:
        messages = self.gathering[subscription.key]
        self.gathering[subscription.key] = []
        self.in_flight[subscription.key] += len(messages)
        future = self.pool.submit(deliver_batch, [m.body for m in messages], subscription,
                                  self.uow_factory)
        future.add_done_callback(lambda f: self._finished(subscription, messages, f))

    def _hand_over_lingering(self) -> float:
        """Hand over the batches whose first message waited `linger`; returns how long until
        the next one is due (or a large number if nothing is gathering)."""
        now, due = time.monotonic(), float("inf")
        for subscription in self.subscriptions:
            if self.gathering[subscription.key]:
                left = self.gathering_since[subscription.key] + self.linger - now
                if left <= 0:
                    self._hand_over(subscription)
                else:
                    due = min(due, left)
        return due

    def _finished(self, subscription: Subscription, messages: list[Message],
                  future: Future[list[Outcome]]) -> None:
        self.results.put((subscription, messages, future))
        try:
            os.write(self._wake_w, b"!")
        except (BlockingIOError, OSError):  # pipe full (a wake-up is pending) or closed
            pass

    def on_iteration(self) -> None:
        if self.stop_event.is_set():
            self.should_stop = True
        while True:
            try:
                subscription, messages, future = self.results.get_nowait()
            except queue.Empty:
                return
            self.in_flight[subscription.key] -= len(messages)
            try:
                outcomes = future.result()
            except Exception as exc:
                outcomes = [Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")] * len(
                    messages)
            for message, outcome in zip(messages, outcomes, strict=True):
                self._apply(subscription, message, outcome)

    def _wait(self, conn: Connection, timeout: float) -> bool:
        """Block until the broker sent something (True) or a handler finished or `timeout`
        passed (False). poll, not select: a busy process may hold fds beyond select's 1024."""
        transport = getattr(conn.connection, "transport", None)
        sock = getattr(transport, "sock", None)
        if sock is None:
            return True  # not a socket transport: let drain_events do the waiting
        if getattr(transport, "_read_buffer", b"") or (
                hasattr(sock, "pending") and sock.pending()):
            return True  # part of a frame read already, or TLS data decrypted already
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        ready = {fd for fd, _ in poller.poll(timeout * 1000)}
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        return sock.fileno() in ready  # readable, or hung up: reading tells which

    @staticmethod
    def _read_frame(conn: Connection, timeout: float) -> None:
        """One frame, not a whole method: py-amqp's drain_events reads on until a method is
        complete, so a heartbeat frame would keep it from watching the pipe for a second."""
        read = getattr(conn.connection, "blocking_read", None)
        if read is None:
            conn.drain_events(timeout=timeout)
        else:
            read(timeout)

    def consume(self, limit: int | None = None, timeout: float | None = None,
                safety_interval: float = 1, **kwargs: Any) -> Iterator[None]:
        """kombu's ConsumerMixin.consume, waking also when a handler finishes (see the class
        docstring)."""
        elapsed, heartbeat_at = 0.0, time.monotonic()
        with self.consumer_context(**kwargs) as (conn, _channel, _consumers):
            for _ in range(limit) if limit else itertools.count():
                if self.should_stop:
                    break
                self.on_iteration()
                wait = min(safety_interval, self._hand_over_lingering())
                started = time.monotonic()
                try:
                    if self._wait(conn, wait):
                        self._read_frame(conn, safety_interval)
                    else:
                        raise socket.timeout()
                except socket.timeout:
                    elapsed += time.monotonic() - started
                    if timeout and elapsed >= timeout and not any(self.gathering.values()):
                        raise
                except OSError:
                    if not self.should_stop:
                        raise
                else:
                    yield
                    elapsed = 0.0
                if time.monotonic() - heartbeat_at >= safety_interval / 2:
                    heartbeat_at = time.monotonic()  # busy or idle, at most twice a second
                    conn.heartbeat_check()

    def _apply(self, subscription: Subscription, message: Message, outcome: Outcome) -> None:
        if message.channel is None or message.channel.connection is None:
            return  # stale delivery after a reconnect: the broker has requeued it
        if outcome.verdict is Verdict.ACK:
            message.ack()
            return
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        if outcome.verdict is Verdict.RETRY and attempts < self.settings.max_attempts:
            target = self.topology.retry_queue(subscription, attempts)
        else:
            target = self.topology.parking_queue(subscription)
            if outcome.verdict is Verdict.RETRY:
                outcome = Outcome(Verdict.PARK, gave_up(attempts, outcome.reason))
        headers.update({ATTEMPTS_HEADER: attempts, REASON_HEADER: outcome.reason[:1000]})
        try:
            self._forward(message, target, headers)
        except Exception:
            log.exception("could not forward message; requeueing", extra={"target": target})
            message.requeue()
            return
        message.ack()

    def _forward(self, message: Message, queue_name: str, headers: dict[str, Any]) -> None:
        if self._producer_conn is None:
            # Own connection for publishing (flow control must not stall our acks); no
            # heartbeats because nobody services it between publishes, confirms instead.
            self._producer_conn = amqp_connection(self.settings, heartbeat=0, confirm=True)
        producer = Producer(self._producer_conn)
        try:
            producer.publish(message.body, exchange="", routing_key=queue_name, headers=headers,
                             content_type=message.content_type or CONTENT_TYPE,
                             content_encoding=message.content_encoding or "utf-8",
                             message_id=message.properties.get("message_id"),
                             delivery_mode=2, retry=True, retry_policy=RETRY_POLICY,
                             confirm_timeout=self.settings.confirm_timeout)
        except Exception:
            self._producer_conn.release()
            self._producer_conn = None
            raise

    def on_consume_end(self, connection: Connection, channel: Any) -> None:
        self.pool.shutdown(wait=True)
        while not self.results.empty():  # apply verdicts of work finished during shutdown
            self.on_iteration()
        # only now: no handler is left to write to it, and the consumer is done for good
        # (after a crash it may be run again, pipe and pool as they are)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        """Waiting for the broker is this loop at work: the liveness probe must not restart a
        worker whose broker is down (its readiness probe says that)."""
        beat = getattr(self.stop_event, "beat", None)  # shared/runtime.py's LoopProgress
        if beat is not None:
            beat(interval)
        super().on_connection_error(exc, interval)  # type: ignore[no-untyped-call]  # kombu: untyped

    def run_until(self, stop: StopSignal) -> None:
        self.stop_event = stop
        try:
            self.run()  # type: ignore[no-untyped-call]  # kombu: untyped
        finally:
            if self._producer_conn is not None:
                self._producer_conn.release()
                self._producer_conn = None


