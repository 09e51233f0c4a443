"""The fault suite's checker: how it reads the broker, and that it judges only a stack it saw
quiet twice (bench/invariants.py). What it counts in the database: tests/integration/
test_invariants_postgres.py."""
from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa

from bench import invariants
from bench.invariants import Broker, check, parse_queue_counts, queue_depths
from services import registry
from shared.bus.topology import build_topology

LISTED = ("lotse.referral.intake\t0\t3\n"
          "lotse.referral.intake.retry.5s\t2\t0\n"
          "some other queue\twith\ttabs\t1\t0\n"
          "ok\n")


def test_the_counts_read_on_the_node_give_ready_and_unacked_messages_per_queue():
    assert parse_queue_counts(LISTED) == {"lotse.referral.intake": (0, 3),
                                          "lotse.referral.intake.retry.5s": (2, 0),
                                          "some other queue\twith\ttabs": (1, 0)}


def test_with_a_node_the_depths_come_from_one_rabbitmqctl_call_on_that_node(monkeypatch):
    calls = []

    def run(args, **kwargs):
        calls.append((args, kwargs))
        return subprocess.CompletedProcess(args, 0, stdout=LISTED, stderr="")

    monkeypatch.setattr(invariants.subprocess, "run", run)
    broker = Broker("amqp://guest:guest@127.0.0.1:5999//", node="faults5999@localhost",
                    env={"RABBITMQ_NODENAME": "faults5999@localhost"})
    depths = queue_depths(broker, ["lotse.referral.intake", "lotse.referral.intake.retry.5s",
                                   "lotse.never.declared"])
    # a message a handler holds right now (unacked) counts as much as one waiting
    assert depths == {"lotse.referral.intake": (0, 3), "lotse.referral.intake.retry.5s": (2, 0),
                      "lotse.never.declared": (0, 0)}
    [(args, kwargs)] = calls
    assert args[:3] == ["rabbitmqctl", "-n", "faults5999@localhost"]
    assert args[-2] == "eval" and 'rabbit_amqqueue:list(<<"/"/utf8>>)' in args[-1]
    assert kwargs["env"] == {"RABBITMQ_NODENAME": "faults5999@localhost"}
    assert kwargs["timeout"]


@pytest.fixture
def observations(monkeypatch):
    """check() on a scripted sequence of in_flight observations; judging is recorded only."""
    seen: list[dict] = []
    judged: list[bool] = []

    def script(*sequence):
        answers = iter(sequence)

        def in_flight(engine, broker, topology, extra_queues=()):
            seen.append(dict(extra_queues=tuple(extra_queues)))
            return next(answers)
        monkeypatch.setattr(invariants, "in_flight", in_flight)
        return seen, judged

    for name in ("_lost", "_duplicated", "_parked"):
        monkeypatch.setattr(invariants, name, lambda *a, **k: judged.append(True))
    monkeypatch.setattr(invariants, "_fallen_through", lambda *a, **k: None)
    return script


def judge(**kwargs):
    topology = build_topology("unit", registry.SUBSCRIPTIONS, (0.2, 0.4))
    engine = sa.create_engine("sqlite://")
    return check(engine, "amqp://unused//", topology, [], [], confirm_after=0.01, **kwargs)


def test_a_stack_seen_quiet_twice_is_settled_and_judged(observations):
    seen, judged = observations({}, {})
    found = judge(extra_queues=("unit.chaos-tap",))
    assert found.settled and judged
    assert len(seen) == 2 and seen[-1]["extra_queues"] == ("unit.chaos-tap",)
    assert found.holds


def test_work_that_appears_on_the_second_look_keeps_the_stack_unsettled(observations):
    # e.g. a handler committed a partner case and acked between the database and broker reads
    seen, judged = observations({}, {"partner cases pending": 1})
    found = judge()
    assert not found.settled and not judged and not found.holds
    assert found.waiting == {"partner cases pending": 1}


def test_work_in_flight_is_reported_without_a_second_look_or_a_judgement(observations):
    seen, judged = observations({"queue unit.referral.intake unacked": 2})
    found = judge()
    assert len(seen) == 1 and not found.settled and not judged


def test_at_the_deadline_an_unsettled_stack_is_judged_all_the_same(observations):
    seen, judged = observations({"partner notices pending": 1})
    found = judge(unsettled=True)
    assert judged and not found.settled and not found.holds
    assert found.waiting == {"partner notices pending": 1}
