"""The bus on the real RabbitMQ and PostgreSQL: confirms, relays, redelivery, parking, retries."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import date

import pytest
from kombu import Connection
from sqlalchemy import func, select

from services import registry
from services.intake import tables as intake_tables
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.domain import Consent, Person
from services.intake.handlers import RecordIntake, record_intake
from services.referral import tables as referral_tables
from services.referral.bootstrap import bootstrap as referral_bootstrap
from services.referral.consumers import SUBSCRIPTIONS as REFERRAL_SUBS
from shared.bus.amqp import ATTEMPTS_HEADER, REASON_HEADER, AmqpConsumer, AmqpPublisher
from shared.bus.delivery import TransientError
from shared.bus.topology import Subscription, build_topology
from shared.outbox import OutboxRelay, OutgoingMessage
from tests.component.test_delivery import intake_recorded
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]


def record_intakes(deps, n: int) -> None:
    for i in range(n):
        cmd = RecordIntake(Person(f"Person{i}", "Test", date(1990, 1, 1), "UA", ("uk",)),
                           "TEMP_PROTECTION_24", "infopoint", ("living_costs",),
                           Consent(True, "signed_form", "uk"), "staff")
        record_intake(cmd, deps.uow(), deps.clock)


def queue_size(settings, name: str) -> int:
    with Connection(settings.broker_url) as conn:
        return conn.channel().queue_declare(name, passive=True).message_count


def drain(settings, name: str) -> list:
    """Take every message off a queue (acking it) and return them."""
    out = []
    with Connection(settings.broker_url) as conn:
        channel = conn.channel()
        while (message := channel.basic_get(name, no_ack=True)) is not None:
            out.append(message)
    return out


def pending(deps) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(intake_tables.outbox)
                         .where(intake_tables.outbox.c.status == "pending")).scalar_one()


def test_the_relay_marks_events_sent_only_after_the_broker_confirmed_them(pg_settings):
    deps = intake_bootstrap(pg_settings.for_service("intake"))
    topology = registry.topology(pg_settings)
    record_intakes(deps, 50)
    relay = OutboxRelay(deps.engine, deps.outbox, AmqpPublisher(pg_settings, topology))
    assert relay.relay_once() == 50
    assert pending(deps) == 0
    assert queue_size(pg_settings, topology.queue(REFERRAL_SUBS[0])) == 50
    relay.publisher.close()


def test_with_the_broker_unreachable_events_stay_pending(pg_settings):
    deps = intake_bootstrap(pg_settings.for_service("intake"))
    record_intakes(deps, 3)
    down = replace(pg_settings, broker_url="amqp://guest:guest@127.0.0.1:1//")
    relay = OutboxRelay(deps.engine, deps.outbox,
                        AmqpPublisher(down, registry.topology(down)))
    assert relay.relay_once() == 0
    assert pending(deps) == 3


def test_two_relays_on_postgresql_publish_every_event(pg_settings):
    deps = intake_bootstrap(pg_settings.for_service("intake"))
    topology = registry.topology(pg_settings)
    record_intakes(deps, 300)
    relays = [OutboxRelay(deps.engine, deps.outbox, AmqpPublisher(pg_settings, topology),
                          batch_size=25) for _ in range(2)]
    counts = [0, 0]

    def work(i):
        while pending(deps):
            counts[i] += relays[i].relay_once()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert pending(deps) == 0 and all(counts), counts
    messages = drain(pg_settings, topology.queue(REFERRAL_SUBS[0]))
    ids = {m.properties["message_id"] for m in messages}
    assert len(ids) == 300


def test_an_event_nobody_subscribes_to_lands_in_the_unrouted_queue(pg_settings):
    topology = registry.topology(pg_settings)
    publisher = AmqpPublisher(pg_settings, topology)
    assert publisher.publish_batch([OutgoingMessage("x-1", "nobody.listens", "nobody.listens",
                                                    "c", "{}")]) == [True]
    wait_until(lambda: queue_size(pg_settings, topology.unrouted) == 1)
    publisher.close()


class ConsumerThread:
    def __init__(self, settings, topology, subscriptions, uow_factory):
        self.stop = threading.Event()
        self.consumer = AmqpConsumer(settings, topology, subscriptions, uow_factory)
        self.thread = threading.Thread(target=self.consumer.run_until, args=(self.stop,),
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(15)


def publish(settings, topology, bodies: list[str], key="intake.recorded") -> None:
    publisher = AmqpPublisher(settings, topology)
    messages = [OutgoingMessage(_event_id(b, i), key, key, "c", b) for i, b in enumerate(bodies)]
    assert all(publisher.publish_batch(messages))
    publisher.close()


def _event_id(body: str, i: int) -> str:
    try:
        return json.loads(body)["id"]
    except ValueError:
        return f"raw-{i}"


def referral_count(deps) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(referral_tables.referrals)
                         ).scalar_one()


def test_the_same_event_delivered_twice_has_one_effect(pg_settings):
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    topology = registry.topology(pg_settings)
    body = intake_recorded()
    with ConsumerThread(pg_settings, topology, REFERRAL_SUBS, deps.uow):
        publish(pg_settings, topology, [body, body])
        wait_until(lambda: queue_size(pg_settings, topology.queue(REFERRAL_SUBS[0])) == 0
                   and referral_count(deps) == 3, timeout=10, message="both deliveries")
        with deps.session_factory() as s:
            inbox = s.execute(select(func.count()).select_from(referral_tables.inbox)
                              ).scalar_one()
    assert referral_count(deps) == 3 and inbox == 1


def test_a_poison_message_is_parked_with_its_reason_and_the_consumer_goes_on(pg_settings):
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    topology = registry.topology(pg_settings)
    with ConsumerThread(pg_settings, topology, REFERRAL_SUBS, deps.uow):
        publish(pg_settings, topology, ["{this is not json", intake_recorded()])
        wait_until(lambda: referral_count(deps) == 3, timeout=10, message="the good message")
        parking = topology.parking_queue(REFERRAL_SUBS[0])
        wait_until(lambda: queue_size(pg_settings, parking) == 1, message="parked poison")
    [parked] = drain(pg_settings, parking)
    assert "not JSON" in parked.headers[REASON_HEADER]


def test_a_transient_failure_comes_back_through_the_delay_queues(pg_settings):
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    failures = {"left": 2}

    def flaky(envelope, uow):
        if failures["left"]:
            failures["left"] -= 1
            raise TransientError("directory briefly unavailable")
        REFERRAL_SUBS[0].handler(envelope, uow)

    sub = Subscription("referral", "open_referrals", ("intake.recorded",), flaky)
    topology = build_topology(pg_settings.bus_prefix, [sub], pg_settings.retry_delays)
    with ConsumerThread(pg_settings, topology, [sub], deps.uow):
        publish(pg_settings, topology, [intake_recorded()])
        wait_until(lambda: referral_count(deps) == 3, timeout=10, message="third attempt")
    assert failures["left"] == 0


def test_a_message_that_keeps_failing_is_parked_after_the_last_attempt(pg_settings):
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    attempts = []

    def down(envelope, uow):
        attempts.append(1)
        raise TransientError("still down")

    sub = Subscription("referral", "open_referrals", ("intake.recorded",), down)
    topology = build_topology(pg_settings.bus_prefix, [sub], pg_settings.retry_delays)
    with ConsumerThread(pg_settings, topology, [sub], deps.uow):
        publish(pg_settings, topology, [intake_recorded()])
        wait_until(lambda: queue_size(pg_settings, topology.parking_queue(sub)) == 1,
                   timeout=10, message="parking after max attempts")
    [parked] = drain(pg_settings, topology.parking_queue(sub))
    assert len(attempts) == pg_settings.max_attempts
    assert parked.headers[ATTEMPTS_HEADER] == pg_settings.max_attempts
    assert "gave up" in parked.headers[REASON_HEADER]


def test_an_undecodable_message_is_parked_not_dropped(pg_settings):
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    topology = registry.topology(pg_settings)
    topology_declared = AmqpPublisher(pg_settings, topology)
    topology_declared.publish_batch([])
    topology_declared.close()
    with Connection(pg_settings.broker_url) as conn:  # claims gzip, is not gzip
        conn.Producer().publish(b"\x00\x01", exchange="", routing_key=topology.queue(
            REFERRAL_SUBS[0]), headers={"compression": "application/x-gzip"},
            content_type="application/cloudevents+json", content_encoding="binary")
    with ConsumerThread(pg_settings, topology, REFERRAL_SUBS, deps.uow):
        parking = topology.parking_queue(REFERRAL_SUBS[0])
        wait_until(lambda: queue_size(pg_settings, parking) == 1, message="parked")
    [parked] = drain(pg_settings, parking)
    assert "undecodable" in parked.headers[REASON_HEADER]


def test_the_console_collects_a_parked_message_and_its_replay_has_one_effect(pg_settings):
    """On RabbitMQ: a message that kept failing is parked; the console moves it into its
    dead-letter store (acking it only after the commit), and a replay goes back into the
    referral queue alone. Replayed twice, it still has one effect (the inbox)."""
    from services.ops import dead_letters
    from services.ops.bootstrap import bootstrap as ops_bootstrap
    from shared.bus.parking import AmqpParkingLot

    deps = referral_bootstrap(pg_settings.for_service("referral"))
    ops = ops_bootstrap(pg_settings.for_service("ops"))
    topology = registry.topology(pg_settings)
    sub, lot = REFERRAL_SUBS[0], AmqpParkingLot(pg_settings, topology)
    failing = Subscription(sub.service, sub.name, sub.event_types, _always_transient)
    with ConsumerThread(pg_settings, topology, [failing], deps.uow):
        publish(pg_settings, topology, [intake_recorded()])
        wait_until(lambda: queue_size(pg_settings, topology.parking_queue(sub)) == 1,
                   timeout=10, message="parked after the last attempt")
    assert dead_letters.collect(ops.engine, lot) == 1
    assert queue_size(pg_settings, topology.parking_queue(sub)) == 0
    with ops.engine.connect() as conn:
        [letter] = dead_letters.listing(conn, {})
    assert letter.queue == topology.queue(sub) and letter.attempts == pg_settings.max_attempts
    assert "gave up" in letter.reason and letter.event_type == "intake.recorded"

    with ConsumerThread(pg_settings, topology, REFERRAL_SUBS, deps.uow):  # the fix
        dead_letters.replay(ops.engine, lot, letter.id, "operator")
        wait_until(lambda: referral_count(deps) == 3, timeout=10, message="the replay")
        lot.requeue(dead_letters_message(letter))  # a repeated replay
        wait_until(lambda: queue_size(pg_settings, topology.queue(sub)) == 0, timeout=10,
                   message="the second copy consumed")
    assert referral_count(deps) == 3


def _always_transient(envelope, uow):
    raise TransientError("routing rules unavailable")


def dead_letters_message(row):
    from shared.bus.parking import ParkedMessage

    return ParkedMessage(row.queue, row.event_id, row.event_type, row.body, row.reason,
                         row.attempts)


def test_a_verdict_is_applied_as_soon_as_its_handler_finishes(pg_settings):
    """With one message in flight per queue, the next arrives only after the ack: were the
    ack sent only with the connection's next frame or after the loop's one-second wait
    (kombu's own loop), 20 messages would take 20 s; the handler's wake-up makes it quick."""
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    settings = replace(pg_settings, worker_threads=1, worker_prefetch=1)
    handled = []
    sub = Subscription("referral", "open_referrals", ("intake.recorded",),
                       lambda envelope, uow: handled.append(envelope.id))
    topology = build_topology(settings.bus_prefix, [sub], settings.retry_delays)
    with ConsumerThread(settings, topology, [sub], deps.uow):
        publish(settings, topology, [intake_recorded() for _ in range(20)])
        wait_until(lambda: len(handled) == 20, timeout=8, message="20 handled one by one")


def test_a_consumer_run_again_after_a_crash_still_wakes_and_acks(pg_settings):
    """A background loop that crashes is run again (shared.runtime.Loops): the consumer's
    wake-up pipe must still be open then, or every ack would be lost to reconnects."""
    deps = referral_bootstrap(pg_settings.for_service("referral"))
    handled = []
    sub = Subscription("referral", "open_referrals", ("intake.recorded",),
                       lambda envelope, uow: handled.append(envelope.id))
    topology = build_topology(pg_settings.bus_prefix, [sub], pg_settings.retry_delays)
    consumer = AmqpConsumer(pg_settings, topology, [sub], deps.uow)
    crash = {"left": 1}
    on_iteration = consumer.on_iteration

    def crashing_once():
        if crash["left"]:
            crash["left"] -= 1
            raise RuntimeError("a bug in the loop")
        on_iteration()

    consumer.on_iteration = crashing_once
    stop = threading.Event()
    with pytest.raises(RuntimeError):
        consumer.run_until(stop)
    thread = threading.Thread(target=consumer.run_until, args=(stop,), daemon=True)
    thread.start()
    try:
        publish(pg_settings, topology, [intake_recorded() for _ in range(3)])
        wait_until(lambda: len(handled) == 3, timeout=10, message="three handled")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()
    assert queue_size(pg_settings, topology.queue(sub)) == 0  # acked, not requeued


def test_a_burst_is_consumed_in_batches_each_message_once(pg_settings):
    """Up to `worker_batch` messages of a queue go to one handler call (one transaction); a
    burst of 120 arrives in a few batches, each message exactly once, all acked."""
    import uuid

    deps = referral_bootstrap(pg_settings.for_service("referral"))
    sizes, seen = [], []

    def batch(envelopes, uow):
        sizes.append(len(envelopes))
        seen.extend(e.id for e in envelopes)

    sub = Subscription("referral", "open_referrals", ("intake.recorded",),
                       lambda e, u: batch([e], u), batch_handler=batch)
    settings = replace(pg_settings, worker_batch=50, worker_linger=0.05)
    topology = build_topology(settings.bus_prefix, [sub], settings.retry_delays)
    bodies = [intake_recorded(str(uuid.uuid4())) for _ in range(120)]
    publish(settings, topology, bodies)
    with ConsumerThread(settings, topology, [sub], deps.uow):
        wait_until(lambda: len(seen) >= 120, timeout=20, message="every message handled")
        wait_until(lambda: queue_size(settings, topology.queue(sub)) == 0,
                   message="every message acked")
    assert sorted(seen) == sorted(json.loads(b)["id"] for b in bodies)
    assert max(sizes) == 50 and len(sizes) <= 6
