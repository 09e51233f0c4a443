"""The referral service's busiest subscriptions take their batches set-based: the same rows,
history and outgoing events as one event at a time, in a number of statements that does not
grow with the batch (SQLite here; tests/integration/test_referral_batches_postgres.py)."""
from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import event

from services.referral import handlers
from services.referral.bootstrap import bootstrap
from shared.bus.delivery import Verdict, deliver_batch
from tests import referral_batches as scenario
from tests.component.conftest import migrated
from tests.conftest import embedded_settings


def fresh(tmp_path, name: str):
    return migrated("referral", embedded_settings(tmp_path / name), bootstrap)


class Statements:
    """Counts the statements sent to the database while it is open."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _seen(self, *_args) -> None:
        self.count += 1

    def __enter__(self) -> "Statements":
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def statements(deps, sub, bodies) -> int:
    with Statements(deps.engine) as counted:
        outcomes = deliver_batch(bodies, sub, deps.uow)
    assert {o.verdict for o in outcomes} == {Verdict.ACK}
    return counted.count


def test_the_hot_subscriptions_have_a_batch_handler_beside_the_per_event_one():
    assert scenario.OPEN.batch_handler is handlers.open_referrals_for_intakes
    assert scenario.OPENED.batch_handler is handlers.record_cases_opened
    assert scenario.REPORT.batch_handler is handlers.apply_partner_reports
    assert scenario.OPEN.handler is handlers.open_referrals_for_intake


def test_per_event_in_batches_and_retried_one_by_one_the_rows_and_events_are_the_same(
        tmp_path):
    snapshots = {}
    for name, batch, poison in (("per-event", None, False), ("batches-of-50", 50, False),
                                ("batches-of-3", 3, False), ("retried", 50, True)):
        deps = fresh(tmp_path, name)
        scenario.run(deps, batch, poison=poison)
        snapshots[name] = scenario.snapshot(deps)
    alone = snapshots.pop("per-event")
    for name, snap in snapshots.items():
        for part in ("referrals", "history", "outbox", "consents", "inbox"):
            assert snap[part] == alone[part], (name, part)


@pytest.fixture(scope="module")
def morning(tmp_path_factory):
    """The scenario delivered in batches of 50, once for the checks below."""
    deps = fresh(tmp_path_factory.mktemp("morning"), "db")
    scenario.run(deps, 50)
    return scenario.snapshot(deps)


def referral(snap, intake: str, need: str, service: str) -> dict:
    [found] = [r for r in snap["referrals"] if r["intake_id"] == scenario.fixed_id(
        f"intake:{intake}") and r["need"] == need and r["service"] == service]
    return found


def statuses(snap, ref: dict) -> list[str]:
    return [h["status"] for h in snap["history"][ref["id"]]]


def test_the_scenario_covers_what_a_batch_could_get_wrong(morning):
    """Each line: a case where an event depends on what the events before it in its batch
    did; the comparison above would be empty without them."""
    snap = morning
    i1 = [r for r in snap["referrals"] if r["intake_id"] == scenario.fixed_id("intake:i1")]
    assert len(i1) == 3  # the re-sent intake was routed once
    jobcenter = referral(snap, "i1", "living_costs", "sgb2")
    assert statuses(snap, jobcenter) == ["on-hold", "requested", "received"]
    ivan = referral(snap, "i2", "orientation_counselling", "mbe")  # his later consent: no
    assert (ivan["status"], ivan["partner_case_ref"]) == ("failed", None)  # stale one undone
    assert referral(snap, "i3", "orientation_counselling", "mbe_diakonie")["status"] \
        == "requested"  # re-routed on his welfare consent
    assert referral(snap, "i5", "orientation_counselling", "mbe")["reason"] \
        == "consent_missing"  # withdrawn before the intake came
    held = referral(snap, "i6", "living_costs", "sgb2")
    assert statuses(snap, held) == ["on-hold", "requested", "on-hold", "requested"]
    assert referral(snap, "i6", "orientation_counselling", "jmd_diakonie")["superseded_by"] is None
    assert referral(snap, "i7", "language_course", "mbe")["reason"] == "consent_missing"
    counselling = referral(snap, "i1", "orientation_counselling", "mbe")
    assert statuses(snap, counselling) == ["requested", "received", "accepted", "completed"]


def test_every_outgoing_event_names_the_event_that_caused_it(morning):
    labels = {scenario.fixed_id(label): label for label in
              ["i1-again", *(f"i{n}" for n in range(1, 8)), *(f"o{n}" for n in range(1, 11)),
               *(f"r{n}" for n in range(1, 15))]}
    causes = []
    for _, _, cause, flow, _ in morning["outbox"]:
        if cause is None:  # the referral by hand
            assert flow == scenario.fixed_id("flow:by-hand")
        else:
            assert flow == scenario.fixed_id(f"flow:{labels[cause]}")
            causes.append(labels[cause])
    assert set(causes) == set(labels.values()) - {"i1-again", "r4", "r10", "r11"}
    assert causes == sorted(causes, key=list(labels.values()).index)  # in delivery order


def test_a_batch_of_50_costs_as_many_statements_as_a_batch_of_5(tmp_path):
    deps = fresh(tmp_path, "db")
    few = statements(deps, scenario.OPEN, scenario.crowd(5, "few"))
    many = statements(deps, scenario.OPEN, scenario.crowd(50, "many"))
    assert many == few and many <= 15
    per_event = replace(scenario.OPEN, batch_handler=None)  # its handler once per event
    assert statements(deps, per_event, scenario.crowd(50, "one-by-one")) > 5 * many

    opened = scenario.crowd_registrations_opened(deps, 50, "many")
    assert statements(deps, scenario.OPENED, opened) <= 15  # each releasing a jobcenter one
    rejected = scenario.crowd_counselling_rejected(deps, 50, "many")
    assert statements(deps, scenario.REPORT, rejected) <= 15  # each re-routed
    snap = scenario.snapshot(deps)
    assert sum(r["status"] == "received" for r in snap["referrals"]) == 50
    assert sum(r["service"] == "mbe_diakonie" for r in snap["referrals"]) == 50
