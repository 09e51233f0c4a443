"""The embedded bus keeps RabbitMQ's semantics: routing, unrouted, delays, parking, leases."""
from __future__ import annotations

import threading
import time

from shared.bus.delivery import TransientError
from shared.bus.embedded import EmbeddedBroker, EmbeddedConsumer
from shared.bus.topology import Subscription, build_topology
from shared.outbox import OutgoingMessage
from tests.component.test_delivery import intake_recorded
from tests.conftest import wait_until


def message(body: str, key: str = "intake.recorded") -> OutgoingMessage:
    return OutgoingMessage("e-" + str(hash(body)), key, key, "c", body)


class NullUow:
    """A unit of work with no state: enough to watch delivery attempts."""

    processed: set = set()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def already_processed(self, sub, event_id):
        return (sub, event_id) in self.processed

    def caused_by(self, envelope):
        pass

    def mark_processed(self, sub, event_id):
        self._pending = (sub, event_id)

    def first_delivery(self, sub, event_id):
        if self.already_processed(sub, event_id):
            return False
        self.mark_processed(sub, event_id)
        return True

    def commit(self):
        NullUow.processed.add(self._pending)


def setup(tmp_path, handler, delays=(0.05, 0.1, 0.2)):
    sub = Subscription("referral", "open_referrals", ("intake.recorded",), handler)
    broker = EmbeddedBroker(f"sqlite:///{tmp_path}/bus.db", build_topology("t", [sub], delays))
    return sub, broker


def run_consumer(broker, sub, max_attempts=4):
    stop = threading.Event()
    consumer = EmbeddedConsumer(broker, [sub], NullUow, threads=2, max_attempts=max_attempts,
                                poll=0.01)
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_an_event_nobody_subscribes_to_lands_in_the_unrouted_queue(tmp_path):
    _, broker = setup(tmp_path, lambda e, u: None)
    broker.publish_batch([message("{}", key="nobody.listens")])
    assert broker.depths()["t.unrouted"]["ready"] == 1


def test_transient_failures_retry_with_growing_delays_then_park(tmp_path):
    attempts: list[float] = []

    def always_down(envelope, uow):
        attempts.append(time.monotonic())
        raise TransientError("down")

    sub, broker = setup(tmp_path, always_down)
    broker.publish_batch([message(intake_recorded())])
    stop, thread = run_consumer(broker, sub)
    try:
        wait_until(lambda: broker.parked(), timeout=5, message="parking")
    finally:
        stop.set()
        thread.join()
    assert len(attempts) == 4
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[2] >= 0.2 and gaps[2] > gaps[0]
    assert "gave up after 4 attempts" in broker.parked()[0].reason


def test_a_poison_message_is_parked_and_the_queue_goes_on(tmp_path):
    handled = []
    sub, broker = setup(tmp_path, lambda e, u: handled.append(e.id))
    broker.publish_batch([message("not json"), message(intake_recorded())])
    stop, thread = run_consumer(broker, sub)
    try:
        wait_until(lambda: handled, timeout=5, message="the good message")
    finally:
        stop.set()
        thread.join()
    parked = broker.parked()
    assert len(parked) == 1 and "not JSON" in parked[0].reason


def test_a_delivery_whose_consumer_died_comes_back_after_its_lease(tmp_path):
    sub, broker = setup(tmp_path, lambda e, u: None)
    broker.publish_batch([message(intake_recorded())])
    # (a lease long enough that a loaded machine still claims again within it)
    assert len(broker.claim(["t.referral.open_referrals"], 10, lease_seconds=1.0)) == 1
    assert broker.claim(["t.referral.open_referrals"], 10) == []  # leased: invisible
    time.sleep(1.1)
    assert len(broker.claim(["t.referral.open_referrals"], 10)) == 1


def test_a_restart_releases_every_lease_at_once(tmp_path):
    sub, broker = setup(tmp_path, lambda e, u: None)
    broker.publish_batch([message(intake_recorded())])
    broker.claim(["t.referral.open_referrals"], 10, lease_seconds=600)
    broker.release_leases()
    assert len(broker.claim(["t.referral.open_referrals"], 10)) == 1
