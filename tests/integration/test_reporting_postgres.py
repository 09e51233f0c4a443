"""The reporting service on RabbitMQ and PostgreSQL: every event of a known week published
twice through the broker, its consumer counts each once; erasure confirmed through its outbox;
a rebuild on PostgreSQL (the fact log locked) equals the live figures."""
from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from services import registry
from services.reporting import cli as reporting_cli
from services.reporting import queries
from services.reporting import tables as t
from services.reporting.bootstrap import bootstrap
from shared.bus.amqp import AmqpConsumer, AmqpPublisher
from shared.outbox import OutgoingMessage
from tests.conftest import wait_until
from tests.reporting_events import Scene, at

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
WEEK = queries.Period(date(2022, 3, 7), date(2022, 3, 13))


def facts(deps) -> int:
    with deps.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(t.facts)).scalar_one()


def figures(deps) -> tuple:
    with deps.engine.connect() as conn:
        return (queries.summary(conn, WEEK),
                queries.consultation_rows(conn, WEEK, ["site", "visit", "age_band"]),
                queries.referral_rows(conn, WEEK, ["partner", "status", "rerouted"]))


def test_events_published_twice_are_counted_once_and_a_rebuild_equals_them(pg_settings):
    deps = bootstrap(pg_settings.for_service("reporting"))
    topology = registry.topology(pg_settings)
    scene = Scene.week()
    erasure = scene.ioana.erasure_requested(at(80), [scene.intakes["ioana"]],
                                            [scene.referrals["held"].id])
    events = [*scene.events, erasure]
    publisher = AmqpPublisher(pg_settings, topology)  # declares the topology first
    consumer = AmqpConsumer(pg_settings, topology, topology.for_service("reporting"),
                            deps.uow)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run_until, args=(stop,), daemon=True)
    thread.start()
    try:
        # the erasure after the rest (before them, it would drop the facts still queued)
        for batch, counted in ((scene.events, len(scene.events)), ([erasure], len(events))):
            for _ in range(2):  # the relay's duplicate after a lost confirm, say
                assert all(publisher.publish_batch([
                    OutgoingMessage(e.id, e.type, e.type, e.correlationid, e.to_json())
                    for e in batch]))
            wait_until(lambda n=counted: facts(deps) == n, timeout=20,
                       message="every event counted")
        with deps.engine.connect() as conn:  # its inbox marks committed with the facts
            assert conn.execute(select(func.count()).select_from(t.inbox)).scalar_one() \
                == len(events)
    finally:
        stop.set()
        thread.join(15)
        publisher.close()
    live = figures(deps)
    summary = live[0]
    assert summary["consultations"]["total"] == 4 and summary["erasures"] == 1
    assert summary["referrals"]["referrals"] == 4 and summary["referrals"]["reroutes"] == 1
    with deps.engine.connect() as conn:
        [confirmation] = conn.execute(select(t.outbox.c.event_type)).all()
    assert confirmation.event_type == "person.erased"
    assert reporting_cli.rebuild(deps.engine) == len(events)
    assert figures(deps) == live
    deps.engine.dispose()


def test_consumers_running_at_once_on_shuffled_events_count_as_one_in_order(pg_settings):
    """Three weeks of events, in order through one delivery after the other, then emptied
    and delivered again shuffled by two consumers with several threads each: the same
    figures (each person's consultations and each intake's referrals serialised)."""
    import random

    from services.reporting.consumers import SUBSCRIPTIONS
    from shared.bus.delivery import deliver

    deps = bootstrap(pg_settings.for_service("reporting"))
    events = [e for _ in range(3) for e in Scene.week().events]
    for event in events:
        deliver(event.to_json(), SUBSCRIPTIONS[0], deps.uow)
    in_order = figures(deps)
    with deps.engine.begin() as conn:
        for table in (*t.FIGURE_TABLES, t.facts, t.inbox):
            conn.execute(table.delete())
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    topology = registry.topology(pg_settings)
    publisher = AmqpPublisher(pg_settings, topology)
    stop = threading.Event()
    threads = [threading.Thread(target=AmqpConsumer(
        pg_settings, topology, topology.for_service("reporting"), deps.uow).run_until,
        args=(stop,), daemon=True) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        assert all(publisher.publish_batch([
            OutgoingMessage(e.id, e.type, e.type, e.correlationid, e.to_json())
            for e in shuffled]))
        wait_until(lambda: facts(deps) == len(events), timeout=30,
                   message="every event counted")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        publisher.close()
    assert figures(deps) == in_order
    deps.engine.dispose()
