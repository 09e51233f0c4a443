"""One delivered event through the generic delivery path (no broker): dedupe, park, retry."""
from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from services.referral import tables
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.causes import ParkCause, read_cause
from shared.bus.delivery import TransientError, Verdict, deliver
from shared.bus.topology import Subscription
from shared.events.envelope import new_envelope
from tests.conftest import SMOKE_INTAKE

OPEN = SUBSCRIPTIONS[0]


def intake_recorded(intake_id="5b2a1f3e-0c5d-4d4e-8e9f-1a2b3c4d5e6f") -> str:
    data = {"intake_id": intake_id, "reference": "LT-2026-ABCDEF",
            "recorded_at": "2026-11-21T09:00:00+00:00", "recorded_by": "staff",
            "site": "infopoint", "person": SMOKE_INTAKE["person"],
            "residence_status": SMOKE_INTAKE["residence_status"],
            "needs": SMOKE_INTAKE["needs"], "consent": SMOKE_INTAKE["consent"]}
    return new_envelope("intake.recorded", 1, "intake", f"intake/{intake_id}", data).to_json()


def rows(deps, table) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_an_intake_event_opens_one_referral_per_need_and_announces_them(referral_deps):
    assert deliver(intake_recorded(), OPEN, referral_deps.uow).verdict is Verdict.ACK
    assert rows(referral_deps, tables.referrals) == 3
    with referral_deps.session_factory() as s:
        types = [r.event_type for r in s.execute(select(tables.outbox)).all()]
    # the living-costs referral waits (announced as on-hold): a v1 event has no first-issue
    # date, which decides a § 24 holder's SGB II or AsylbLG
    assert sorted(types) == ["referral.requested"] * 2 + ["referral.status_changed"]


def test_the_same_event_twice_has_one_effect(referral_deps):
    body = intake_recorded()
    first = deliver(body, OPEN, referral_deps.uow)
    second = deliver(body, OPEN, referral_deps.uow)
    assert (first.verdict, second.verdict, second.reason) == (Verdict.ACK, Verdict.ACK,
                                                              "duplicate")
    assert rows(referral_deps, tables.referrals) == 3
    assert rows(referral_deps, tables.outbox) == 3


def test_outgoing_events_continue_the_correlation_and_name_their_cause(referral_deps):
    body = intake_recorded()
    deliver(body, OPEN, referral_deps.uow)
    incoming = json.loads(body)
    with referral_deps.session_factory() as s:
        out = [json.loads(r.body) for r in s.execute(select(tables.outbox)).all()]
    assert {e["correlationid"] for e in out} == {incoming["correlationid"]}
    assert {e["causationid"] for e in out} == {incoming["id"]}


def test_a_malformed_message_is_parked_with_the_reason(referral_deps):
    wire = json.loads(intake_recorded())
    del wire["data"]["person"]["birth_date"]
    outcome = deliver(json.dumps(wire), OPEN, referral_deps.uow)
    assert outcome.verdict is Verdict.PARK and "birth_date" in outcome.reason
    assert read_cause(outcome.reason)[0] is ParkCause.CONTRACT
    garbage = deliver(b"{not json", OPEN, referral_deps.uow)
    assert garbage.verdict is Verdict.PARK
    assert read_cause(garbage.reason)[0] is ParkCause.CONTRACT
    assert rows(referral_deps, tables.referrals) == 0


def test_an_event_for_another_subscriber_is_parked_as_misrouted(referral_deps):
    sub = Subscription("referral", "x", ("consent.withdrawn",), OPEN.handler)
    outcome = deliver(intake_recorded(), sub, referral_deps.uow)
    assert outcome.verdict is Verdict.PARK
    assert read_cause(outcome.reason) == (ParkCause.MISROUTED,
                                          "referral.x does not handle intake.recorded")


def test_a_failing_handler_commits_nothing(referral_deps):
    def explode(envelope, uow):
        OPEN.handler(envelope, uow)
        raise TransientError("partner directory unavailable")

    sub = Subscription("referral", "open_referrals", ("intake.recorded",), explode)
    body = intake_recorded()
    assert deliver(body, sub, referral_deps.uow).verdict is Verdict.RETRY
    assert rows(referral_deps, tables.referrals) == 0
    assert rows(referral_deps, tables.inbox) == 0
    assert deliver(body, OPEN, referral_deps.uow).verdict is Verdict.ACK  # the retry works
    assert rows(referral_deps, tables.referrals) == 3


def test_a_database_outage_is_retried_and_a_bug_is_parked(referral_deps):
    def db_down(envelope, uow):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    def bug(envelope, uow):
        raise KeyError("oops")

    for handler, verdict in ((db_down, Verdict.RETRY), (bug, Verdict.PARK)):
        sub = Subscription("referral", "x", ("intake.recorded",), handler)
        outcome = deliver(intake_recorded(), sub, referral_deps.uow)
        assert outcome.verdict is verdict
    assert read_cause(outcome.reason) == (ParkCause.HANDLER_FAILED, "KeyError: 'oops'")


def test_an_event_the_handler_would_ignore_is_acked_without_a_transaction(referral_deps):
    handled = []
    sub = Subscription("referral", "open_referrals", ("intake.recorded",),
                       lambda envelope, uow: handled.append(envelope.id),
                       wants=lambda envelope: envelope.data["site"] != "infopoint")
    outcome = deliver(intake_recorded(), sub, referral_deps.uow)
    assert (outcome.verdict, outcome.reason) == (Verdict.ACK, "nothing to do")
    assert handled == [] and rows(referral_deps, tables.inbox) == 0
