"""Bus topology: one topic exchange, per-subscription work, delay and parking queues.

The same description drives code declarations (idempotent, at every start) and
`deploy/rabbitmq/definitions.json`, so no publisher depends on a consumer having declared first.

    <p>.events (topic, alternate-exchange <p>.unrouted) --type--> <p>.<service>.<handler>  (quorum)
    <p>.unrouted (fanout) --> <p>.unrouted                       unroutable events, alert if > 0
    <p>.<service>.<handler>.retry.<tier> (ttl, dead-letters back to its work queue only)
    <p>.<service>.<handler>.parked       poison or exhausted messages, with the reason in a header
"""
from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:  # for annotations only: kombu is imported where it is used
    from kombu.entity import Exchange, Queue

DELIVERY_LIMIT = 20  # crash loops (redelivered without our verdict) end in the parking queue


@dataclass(frozen=True)
class Subscription:
    """A handler of one service listening to some event types through its own durable queue.

    `wants`, if given, says from the event alone whether the handler would do anything with
    it; an event it would ignore is acked without a transaction (and without an inbox row:
    a redelivery is ignored the same way).

    Deliveries come in batches (shared/bus/delivery.py): `handler(envelope, uow)` is called
    for each new event of the batch in one transaction; a subscription that can do set-based
    work gives `batch_handler(envelopes, uow)` instead, called once per batch with the events
    not seen before and not about an erased person, in delivery order."""

    service: str
    name: str
    event_types: tuple[str, ...]
    handler: Callable[..., None]
    wants: Callable[[Any], bool] | None = None
    batch_handler: Callable[..., None] | None = None
    # the service's erasure tombstones (shared/erasure.py `guarded`): events about an erased
    # person, intake or referral are acked without effect, so they cannot recreate data
    tombstones: Any = None

    @property
    def key(self) -> str:
        return f"{self.service}.{self.name}"


def tier_name(seconds: float) -> str:
    if seconds < 1:
        return f"{int(round(seconds * 1000))}ms"
    if seconds < 60 or seconds % 60:
        return f"{seconds:g}s"
    return f"{int(seconds // 60)}m"


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: '*' is exactly one word, '#' zero or more words."""
    return _match(pattern.split("."), key.split("."))


def _match(pattern: list[str], words: list[str]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _match(rest, words[1:])


@dataclass(frozen=True)
class Topology:
    prefix: str
    subscriptions: tuple[Subscription, ...]
    retry_delays: tuple[float, ...]

    @property
    def exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def unrouted(self) -> str:
        return f"{self.prefix}.unrouted"

    def queue(self, sub: Subscription) -> str:
        return f"{self.prefix}.{sub.key}"

    def parking_queue(self, sub: Subscription) -> str:
        return f"{self.queue(sub)}.parked"

    def retry_queue(self, sub: Subscription, attempt: int) -> str:
        """Delay queue for the given (1-based) failed attempt: the delays grow per attempt."""
        delay = self.retry_delays[min(attempt, len(self.retry_delays)) - 1]
        return f"{self.queue(sub)}.retry.{tier_name(delay)}"

    def retry_delay(self, attempt: int) -> float:
        return self.retry_delays[min(attempt, len(self.retry_delays)) - 1]

    def routes(self, routing_key: str) -> list[str]:
        return [self.queue(s) for s in self.subscriptions
                if any(topic_matches(t, routing_key) for t in s.event_types)]

    def for_service(self, service: str) -> tuple[Subscription, ...]:
        return tuple(s for s in self.subscriptions if s.service == service)

    # --- RabbitMQ declarations -------------------------------------------------------------
    def queue_specs(self) -> list[dict[str, Any]]:
        """Every queue with its arguments (the single source for code and definitions.json)."""
        specs = [{"name": self.unrouted, "arguments": {"x-queue-type": "quorum"}}]
        for sub in self.subscriptions:
            work = self.queue(sub)
            specs.append({"name": work, "arguments": {
                "x-queue-type": "quorum",
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.parking_queue(sub)}})
            for delay in sorted(set(self.retry_delays)):
                specs.append({"name": f"{work}.retry.{tier_name(delay)}", "arguments": {
                    "x-queue-type": "quorum",
                    "x-message-ttl": int(delay * 1000),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": work}})
            specs.append({"name": self.parking_queue(sub), "arguments": {"x-queue-type": "quorum"}})
        return specs

    def exchange_specs(self) -> list[dict[str, Any]]:
        return [
            {"name": self.exchange, "type": "topic",
             "arguments": {"alternate-exchange": self.unrouted}},
            {"name": self.unrouted, "type": "fanout", "arguments": {}},
        ]

    def binding_specs(self) -> list[dict[str, str]]:
        bindings = [{"source": self.unrouted, "destination": self.unrouted, "routing_key": ""}]
        for sub in self.subscriptions:
            for event_type in sub.event_types:
                bindings.append({"source": self.exchange, "destination": self.queue(sub),
                                 "routing_key": event_type})
        return bindings

    def kombu_exchange(self) -> Exchange:
        from kombu.entity import Exchange

        spec = self.exchange_specs()[0]
        return Exchange(spec["name"], type="topic", durable=True, arguments=spec["arguments"])

    def kombu_queue(self, name: str) -> Queue:
        from kombu.entity import Queue

        spec = next(s for s in self.queue_specs() if s["name"] == name)
        return Queue(name, durable=True, queue_arguments=spec["arguments"], no_declare=False)

    def declare(self, channel: Any) -> None:
        """Declare exchanges, queues and bindings on a channel of the transport (kombu types
        none); safe to repeat on every start."""
        from kombu.entity import Exchange, Queue

        for spec in self.exchange_specs():
            Exchange(spec["name"], type=spec["type"], durable=True,
                     arguments=spec["arguments"] or None)(channel).declare()
        for spec in self.queue_specs():
            Queue(spec["name"], durable=True, queue_arguments=spec["arguments"])(channel).declare()
        for b in self.binding_specs():
            Queue(b["destination"], durable=True,
                  queue_arguments=self._args(b["destination"]))(channel).bind_to(
                exchange=b["source"], routing_key=b["routing_key"])

    def _args(self, name: str) -> dict[str, Any]:
        return next(s["arguments"] for s in self.queue_specs() if s["name"] == name)

    def definitions(self, user: str = "lotse", password: str | None = None,
                    vhost: str = "/") -> dict[str, Any]:
        """Definitions to import at broker boot. A blank node that imports definitions creates
        no default user, so with a password they carry Lotse's user too (with a fresh salt);
        without one, only the topology (the committed file: no published password)."""
        users = [{"name": user, "password_hash": _rabbit_hash(password),
                  "hashing_algorithm": "rabbit_password_hashing_sha256",
                  "tags": ["administrator"]}] if password else []
        return {
            "rabbit_version": "3.10.8",
            "users": users,
            "vhosts": [{"name": vhost}],
            "permissions": [{"user": user, "vhost": vhost, "configure": ".*",
                             "write": ".*", "read": ".*"}] if password else [],
            "exchanges": [{"name": e["name"], "vhost": vhost, "type": e["type"], "durable": True,
                           "auto_delete": False, "internal": False, "arguments": e["arguments"]}
                          for e in self.exchange_specs()],
            "queues": [{"name": q["name"], "vhost": vhost, "durable": True, "auto_delete": False,
                        "arguments": q["arguments"]} for q in self.queue_specs()],
            "bindings": [{"source": b["source"], "vhost": vhost, "destination": b["destination"],
                          "destination_type": "queue", "routing_key": b["routing_key"],
                          "arguments": {}} for b in self.binding_specs()],
        }


def _rabbit_hash(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def build_topology(prefix: str, subscriptions: Iterable[Subscription],
                   retry_delays: Sequence[float]) -> Topology:
    return Topology(prefix, tuple(subscriptions), tuple(retry_delays))
