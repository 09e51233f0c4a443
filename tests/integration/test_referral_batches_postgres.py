"""The referral service's batch handlers on PostgreSQL: the same rows, history and outgoing
events as one event at a time, a constant number of statements per batch, and two batches
changing the same referrals in opposite orders wait for each other instead of deadlocking."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import replace

from sqlalchemy import event

from services.referral.bootstrap import bootstrap
from shared.bus.delivery import Verdict, deliver_batch
from tests import referral_batches as scenario
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database


@contextlib.contextmanager
def referral_database(tmp_path, name: str):
    with fresh_database("lotse_referral", services=("referral",)) as url:
        deps = bootstrap(replace(embedded_settings(tmp_path / name).for_service("referral"),
                                 database_url=url))
        try:
            yield deps
        finally:
            deps.engine.dispose()


def test_per_event_and_in_batches_the_rows_and_events_are_the_same(tmp_path):
    snapshots = {}
    for name, batch, poison in (("per-event", None, False), ("batches", 50, False),
                                ("retried", 50, True)):
        with referral_database(tmp_path, name) as deps:
            scenario.run(deps, batch, poison=poison)
            snapshots[name] = scenario.snapshot(deps)
    alone = snapshots.pop("per-event")
    # the v1 intake's living costs wait for the § 24 permit's first-issue date (v1 has none):
    # on hold once, never requested
    assert len(alone["referrals"]) == 21 and len(alone["outbox"]) == 48
    for name, snap in snapshots.items():
        for part in ("referrals", "history", "outbox", "consents", "inbox"):
            assert snap[part] == alone[part], (name, part)


def counted(deps, sub, bodies) -> int:
    seen = []

    def statement(*_args) -> None:
        seen.append(1)
    event.listen(deps.engine, "before_cursor_execute", statement)
    try:
        outcomes = deliver_batch(bodies, sub, deps.uow)
    finally:
        event.remove(deps.engine, "before_cursor_execute", statement)
    assert {o.verdict for o in outcomes} == {Verdict.ACK}
    return len(seen)


def test_a_batch_of_50_costs_a_constant_number_of_statements(tmp_path):
    with referral_database(tmp_path, "db") as deps:
        few = counted(deps, scenario.OPEN, scenario.crowd(5, "few"))
        many = counted(deps, scenario.OPEN, scenario.crowd(50, "many"))
        assert many == few and many <= 15
        assert counted(deps, scenario.OPENED,
                       scenario.crowd_registrations_opened(deps, 50, "many")) <= 15
        assert counted(deps, scenario.REPORT,
                       scenario.crowd_counselling_rejected(deps, 50, "many")) <= 15


def test_batches_changing_the_same_referrals_in_opposite_orders_do_not_deadlock(tmp_path):
    with referral_database(tmp_path, "db") as deps:
        counted(deps, scenario.OPEN, scenario.crowd(50, "race"))
        first = scenario.crowd_registrations_opened(deps, 50, "race")
        slot = {"starts_at": "2026-11-25T10:00:00+00:00", "location": "Bürgeramt Mitte",
                "bring": ["passport"]}
        second = [scenario.opened(f"race-again-{i}",
                                  scenario.current(deps, f"race-{i}", "address_registration"),
                                  f"BD-{i}", slot) for i in reversed(range(50))]
        both_in = threading.Barrier(2, timeout=10)

        def meeting(envelopes, uow):  # both transactions open before either locks a row
            both_in.wait()
            scenario.OPENED.batch_handler(envelopes, uow)
        racing = replace(scenario.OPENED, batch_handler=meeting)
        units: list[int] = []
        lock = threading.Lock()

        def uow():
            with lock:
                units.append(1)
            return deps.uow()
        results: dict[str, list] = {}

        def deliver(name: str, bodies: list[str]) -> None:
            results[name] = deliver_batch(bodies, racing, uow)
        threads = [threading.Thread(target=deliver, args=(name, bodies))
                   for name, bodies in (("first", first), ("second", second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(units) == 2  # one transaction each: no batch failed and was retried
        assert all(o.verdict is Verdict.ACK for r in results.values() for o in r)
        snap = scenario.snapshot(deps)
        registrations = [r for r in snap["referrals"] if r["need"] == "address_registration"]
        assert {(r["status"], r["appointment"] == slot) for r in registrations} == {
            ("received", True)}
        assert all([h["status"] for h in snap["history"][r["id"]]] == ["requested", "received"]
                   for r in registrations)
