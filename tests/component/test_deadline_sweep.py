"""The deadline sweep on the database with a controlled clock; timers survive a restart."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.referral import handlers, repository, tables
from services.referral.bootstrap import bootstrap
from shared.bus.delivery import deliver
from tests.component.test_partner_reports import CONSENT, OPEN
from tests.component.test_referral_consents import intake_v2

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def deps_at(settings, clock: Clock):
    deps = bootstrap(settings.for_service("referral"))
    deps.clock = clock
    return deps


def emitted(deps) -> list[str]:
    with deps.session_factory() as s:
        return [json.loads(r.body)["type"] for r in
                s.execute(select(tables.outbox.c.body).order_by(tables.outbox.c.id)).all()]


def by_partner(deps) -> dict:
    with deps.session_factory() as s:
        return {r.partner: r for r in repository.find(s)}


def test_reminder_escalation_and_expiry_and_a_restart_in_between(referral_deps, settings):
    clock = Clock(START)
    event = json.loads(intake_v2(CONSENT))
    event["time"] = START.isoformat()  # recorded Monday morning
    deliver(json.dumps(event), OPEN, referral_deps.uow)
    refs = by_partner(referral_deps)
    assert refs["welfare"].ack_due_at is not None and refs["registration"].expires_at

    deps = deps_at(settings, clock)
    clock.now = START + timedelta(days=1)  # Tuesday: registration due on Wednesday night
    assert handlers.sweep_deadlines(deps.uow, clock) == {"reminded": 1}

    restarted = deps_at(settings, clock)  # a new process: the timers are in the database
    clock.now = START + timedelta(days=3)  # Thursday (the Jobcenter still waits: no clock)
    counts = handlers.sweep_deadlines(restarted.uow, clock)
    assert counts == {"overdue": 1}
    refs = by_partner(restarted)
    assert refs["registration"].attention() == "overdue"

    clock.now = START + timedelta(days=30)
    counts = handlers.sweep_deadlines(restarted.uow, clock)
    refs = by_partner(restarted)
    assert (refs["registration"].status, refs["registration"].reason) == ("cancelled",
                                                                          "expired")
    assert refs["welfare"].attention() == "overdue"
    assert counts == {"expired": 1, "overdue": 1}
    assert refs["jobcenter"].reason == "prerequisite_pending"
    assert refs["jobcenter"].attention(clock.now) == "on_hold:prerequisite_pending"
    events = emitted(restarted)
    assert events.count("referral.reminder_due") == 1 and events.count("referral.overdue") == 2
    assert handlers.sweep_deadlines(restarted.uow, clock) == {}  # nothing twice
