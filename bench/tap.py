"""The fault suite's tap on the bus: duplicated deliveries and poison messages.

The tap has its own queue bound to the events exchange for every routing key, so it sees each
event once without taking it from anyone. For a share of them it publishes, to the same
exchange and routing key:

* a duplicate: the same body, id and headers again, so every subscriber receives the event
  twice (what a relay crash between publish and "sent", or a redelivery, looks like);
* a poison message: a message no subscriber can ever process (a body that is not JSON, or an
  envelope of an unknown schema version), each with its own id, which every subscriber of the
  routing key must park with a reason instead of blocking its queue or dropping it.

Everything the tap publishes carries CHAOS_HEADER so the tap does not copy its own copies.
It reconnects when the broker restarts; what passes while it is away is simply not copied.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from functools import partial

from kombu import Connection, Consumer, Exchange, Producer, Queue

log = logging.getLogger(__name__)
CHAOS_HEADER = "x-lotse-chaos"


@dataclass(frozen=True)
class Poison:
    id: str
    routing_key: str
    kind: str  # "not-json" | "unknown-version"


@dataclass
class TapCounts:
    seen: int = 0
    duplicated: int = 0
    poison: list[Poison] = field(default_factory=list)


def poison_body(original: bytes, kind: str, poison_id: str) -> bytes:
    if kind == "not-json":
        return b"\x00\x9f not an event " + poison_id.encode()
    envelope = json.loads(original)
    return json.dumps({**envelope, "id": poison_id, "schemaversion": 999,
                       "data": {"poison": True}}).encode()


class ChaosTap(threading.Thread):
    def __init__(self, broker_url: str, exchange: str, queue: str, *, duplicate: float,
                 poison: float, seed: int = 8):
        super().__init__(name="chaos-tap", daemon=True)
        self.broker_url, self.exchange = broker_url, Exchange(exchange, type="topic",
                                                              passive=True)
        self.queue = Queue(queue, exchange=self.exchange, routing_key="#", durable=False,
                           auto_delete=False)
        self.duplicate, self.poison = duplicate, poison
        self.random = random.Random(seed)
        self.counts = TapCounts()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def _copy(self, producer: Producer, message, body: bytes, kind: str, **properties) -> None:
        headers = {**(message.headers or {}), CHAOS_HEADER: kind}
        producer.publish(body, exchange=self.exchange.name,
                         routing_key=message.delivery_info["routing_key"], headers=headers,
                         content_type=message.content_type,
                         content_encoding=message.content_encoding, delivery_mode=2,
                         **properties)

    def _on_message(self, producer: Producer, message) -> None:
        if CHAOS_HEADER in (message.headers or {}):
            message.ack()
            return
        with self.lock:
            self.counts.seen += 1
            dice = self.random.random()
        routing_key = message.delivery_info["routing_key"]
        if dice < self.poison:
            kind = self.random.choice(("not-json", "unknown-version"))
            poison_id = str(uuid.uuid4())
            self._copy(producer, message, poison_body(message.body, kind, poison_id), "poison",
                       message_id=poison_id)
            with self.lock:
                self.counts.poison.append(Poison(poison_id, routing_key, kind))
        elif dice < self.poison + self.duplicate:
            self._copy(producer, message, message.body, "duplicate",
                       message_id=message.properties.get("message_id"))
            with self.lock:
                self.counts.duplicated += 1
        message.ack()  # only after the confirmed copy: a lost connection re-delivers to us

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with Connection(self.broker_url, heartbeat=10) as conn, \
                        Connection(self.broker_url,
                                   transport_options={"confirm_publish": True}) as out:
                    conn.ensure_connection(max_retries=1)
                    producer = Producer(out.channel())
                    with Consumer(conn.channel(), queues=[self.queue], prefetch_count=50,
                                  on_message=partial(self._on_message, producer)):
                        while not self.stop_event.is_set():
                            try:
                                conn.drain_events(timeout=0.5)
                            except TimeoutError:
                                conn.heartbeat_check()
            except Exception as exc:  # the broker is restarting: try again shortly
                log.info("chaos tap reconnecting: %s", exc)
                self.stop_event.wait(1.0)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(10)
