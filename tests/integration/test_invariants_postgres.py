"""The fault suite's checker on the real PostgreSQL and RabbitMQ: what counts as still in flight
(bench/invariants.py's "settled"), and that a quiet, empty stack is judged and holds."""
from __future__ import annotations

import subprocess
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from kombu import Connection

from bench import invariants
from bench.invariants import POLL_GRACE, Broker, check, in_flight
from services import registry
from services.partner_adapter.tables import partner_cases, partner_notices
from shared.bus.topology import build_topology
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def engine(pg_url):
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def quiet_broker(monkeypatch):
    """Every queue empty: these tests are about the database side."""
    monkeypatch.setattr(invariants, "queue_depths",
                        lambda broker, names: {name: (0, 0) for name in names})


def topology(prefix: str = "inv"):
    return build_topology(prefix, registry.SUBSCRIPTIONS, (0.2, 0.4))


def open_case(engine, status: str = "opened", **columns) -> str:
    case_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(partner_cases.insert().values(
            id=case_id, referral_id=referral_id, partner="registration", service="anmeldung",
            idempotency_key=str(uuid.uuid4()), request={}, status=status,
            partner_case_ref=f"REG-{case_id[:8]}" if status == "opened" else None, attempts=0,
            next_attempt_at=NOW, created_at=NOW, updated_at=NOW, **columns))
    return case_id


def queue_notice(engine, status: str = "pending", next_attempt_at: datetime = NOW) -> None:
    case_id = open_case(engine)
    with engine.begin() as conn:
        conn.execute(partner_notices.insert().values(
            id=str(uuid.uuid4()), case_id=case_id, referral_id=str(uuid.uuid4()),
            partner="registration", partner_case_ref="REG-1", kind="consent_withdrawn",
            reason="consent_withdrawn", occurred_at=NOW, idempotency_key=str(uuid.uuid4()),
            status=status, attempts=0, next_attempt_at=next_attempt_at, created_at=NOW,
            updated_at=NOW))


def waiting(engine) -> dict[str, int]:
    return in_flight(engine, "amqp://unused//", topology(), now=NOW)


def test_a_quiet_empty_stack_is_settled_judged_and_holds(engine, quiet_broker):
    found = check(engine, "amqp://unused//", topology(), [], [], confirm_after=0.01)
    assert found.settled and found.holds, found


def test_a_notice_to_a_partner_still_to_be_sent_is_in_flight_even_when_retried_later(
        engine, quiet_broker):
    queue_notice(engine, next_attempt_at=NOW + timedelta(minutes=5))  # partner was down
    queue_notice(engine, status="sent")
    assert waiting(engine) == {"partner notices pending": 1}


def test_a_cancellation_owed_to_a_partner_is_in_flight_whenever_it_is_due(engine, quiet_broker):
    open_case(engine, cancel_due_at=NOW)
    open_case(engine, cancel_due_at=NOW + timedelta(seconds=60))  # the retry after a failure
    open_case(engine, cancelled_at=NOW - timedelta(minutes=1))  # sent: nothing owed
    assert waiting(engine) == {"partner cancellations owed": 2}


def test_a_reminder_is_in_flight_once_it_is_due_not_before(engine, quiet_broker):
    open_case(engine, reminder_due_at=NOW - timedelta(seconds=1))
    open_case(engine, reminder_due_at=NOW + timedelta(hours=3))  # planned for later
    assert waiting(engine) == {"partner reminders due": 1}


def test_only_status_polls_the_case_loop_fell_behind_on_are_in_flight(engine, quiet_broker):
    open_case(engine, next_poll_at=NOW - POLL_GRACE - timedelta(seconds=1))
    open_case(engine, next_poll_at=NOW - timedelta(seconds=1))  # about to be read
    open_case(engine, next_poll_at=NOW + timedelta(minutes=2))  # the next regular read
    assert waiting(engine) == {"partner polls overdue": 1}


def test_a_partner_case_still_to_be_opened_is_in_flight(engine, quiet_broker):
    open_case(engine, status="pending")
    open_case(engine, status="failed")
    assert waiting(engine) == {"partner cases pending": 1}


def test_an_unreadable_broker_is_not_a_quiet_one(engine):
    broker = Broker("amqp://guest:guest@127.0.0.1:5672//", node="nosuchnode@localhost")
    assert waiting_on(engine, broker) == {"broker unreadable (CalledProcessError)": 1}


def waiting_on(engine, broker, prefix: str = "inv", extra_queues=()) -> dict[str, int]:
    return in_flight(engine, broker, topology(prefix), extra_queues, now=NOW)


def test_a_message_a_handler_holds_unacked_is_in_flight(engine, broker_url, prefix):
    node = subprocess.run(["rabbitmqctl", "-q", "eval", "node()."], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()
    broker, topo, tap = Broker(broker_url, node=node), topology(prefix), f"{prefix}.chaos-tap"
    work = topo.queue(topo.subscriptions[0])
    with Connection(broker_url) as conn:
        channel = conn.channel()
        topo.declare(channel)
        channel.queue_declare(tap, durable=False, auto_delete=False)
        try:
            assert waiting_on(engine, broker, prefix, [tap]) == {}
            for queue in (work, tap):
                channel.basic_publish(channel.prepare_message(b"{}"), exchange="",
                                      routing_key=queue)
            both = {f"queue {work}": 1, f"queue {tap}": 1}
            wait_until(lambda: waiting_on(engine, broker, prefix, [tap]) == both,
                       message="a ready message in the work queue and in the tap's")
            channel.basic_get(tap, no_ack=True)
            held = wait_until(lambda: channel.basic_get(work, no_ack=False), message="delivery")
            # taken by a handler, not acked yet: AMQP's passive declare would count nothing
            assert waiting_on(engine, broker, prefix, [tap]) == {f"queue {work} unacked": 1}
            channel.basic_ack(held.delivery_tag)
            wait_until(lambda: waiting_on(engine, broker, prefix, [tap]) == {},
                       message="the ack")
        finally:
            channel.queue_delete(tap)
            channel.close()
