"""The outbox relay on SQLite: sent only when confirmed, pending (with back-off) otherwise."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from services.intake import tables
from services.intake.domain import Consent, Person
from services.intake.handlers import RecordIntake, record_intake
from shared.outbox import OutboxRelay
from tests.fakes import RecordingPublisher


def record(deps):
    cmd = RecordIntake(Person("Olena", "Kovalenko", date(1987, 3, 14), "UA", ("uk",)),
                       "TEMP_PROTECTION_24", "infopoint", ("living_costs",),
                       Consent(True, "signed_form", "uk"), "staff")
    return record_intake(cmd, deps.uow(), deps.clock)


def statuses(deps):
    with deps.session_factory() as s:
        return [(r.status, r.attempts) for r in s.execute(select(tables.outbox)).all()]


def test_confirmed_events_are_marked_sent(intake_deps):
    record(intake_deps)
    publisher = RecordingPublisher()
    assert OutboxRelay(intake_deps.engine, tables.outbox, publisher).relay_once() == 1
    assert statuses(intake_deps) == [("sent", 0)]
    assert publisher.published[0].routing_key == "intake.recorded"


def test_a_broker_outage_leaves_events_pending_for_a_later_attempt(intake_deps):
    record(intake_deps)
    relay = OutboxRelay(intake_deps.engine, tables.outbox, RecordingPublisher(fail=True))
    assert relay.relay_once() == 0
    assert statuses(intake_deps) == [("pending", 1)]
    assert relay.relay_once() == 0  # backing off: not claimed again at once
    relay.publisher = RecordingPublisher()
    relay.clock = lambda: intake_deps.clock() + timedelta(seconds=5)
    assert relay.relay_once() == 1

