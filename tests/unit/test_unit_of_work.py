"""What a handler is given as its unit of work (issue 18): `UnitOfWork` and tests/fakes.py's
`FakeUnitOfWork` both fit shared.uow.UnitOfWorkLike (pyproject.toml lists this module for
mypy, which checks that), and the fake stages events the way the real one does."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import MetaData, Table
from sqlalchemy.orm import sessionmaker

from shared.events.envelope import Envelope, new_envelope
from shared.events.model import ConsentWithdrawnV1
from shared.uow import UnitOfWork, UnitOfWorkLike
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 11, 21, 9, tzinfo=timezone.utc)


def withdrawn() -> ConsentWithdrawnV1:
    return ConsentWithdrawnV1(consent_id=uuid.uuid4(), person_id=uuid.uuid4(), partner=None,
                              withdrawn_at=AT, withdrawn_by="staff-1", reason=None)


def unopened() -> UnitOfWork:
    """A unit of work with no database behind it: it is never opened."""
    return UnitOfWork(sessionmaker(), Table("outbox", MetaData()), Table("inbox", MetaData()),
                      "test")


def withdraw(uow: UnitOfWorkLike) -> Envelope:
    """A handler's use of its unit of work, in miniature."""
    envelope = uow.publish(withdrawn())
    uow.commit()
    return envelope


def test_both_units_of_work_are_what_a_handler_is_given() -> None:
    # checked by mypy: the list refuses either if it lacks what a handler may use
    units: list[UnitOfWorkLike] = [unopened(), FakeUnitOfWork()]
    assert len(units) == 2


def test_staged_events_are_published_when_committed() -> None:
    fake = FakeUnitOfWork(clock=lambda: AT)
    with fake:
        envelope = withdraw(fake)
    assert fake.committed
    assert fake.published == [envelope]
    assert envelope.type == "consent.withdrawn" and envelope.data["reason"] is None


def test_leaving_without_a_commit_drops_the_staged_events() -> None:
    fake = FakeUnitOfWork()
    with fake:
        fake.publish(withdrawn())
        assert len(fake.staged) == 1
    assert not fake.committed and fake.staged == [] and fake.published == []


def test_events_continue_the_flow_of_the_event_that_caused_them() -> None:
    cause = new_envelope("consent.withdrawn", 1, "intake", "person/1", withdrawn().data())
    fake = FakeUnitOfWork()
    with fake:
        fake.caused_by(cause)
        fake.continues("another-flow", "another-cause")  # a delivered cause wins
        envelope = withdraw(fake)
    assert (envelope.correlationid, envelope.causationid) == (cause.correlationid, cause.id)


def test_work_resumed_later_continues_the_flow_that_asked_for_it() -> None:
    fake = FakeUnitOfWork()
    with fake:
        fake.continues("flow-1", "event-1")
        envelope = withdraw(fake)
    assert (envelope.correlationid, envelope.causationid) == ("flow-1", "event-1")


def test_an_event_breaking_its_contract_is_refused_when_staged() -> None:
    fake = FakeUnitOfWork()
    with fake, pytest.raises(ValueError, match="breaks its contract"):
        fake.emit("consent.withdrawn", "person/1", {"consent_id": "not a uuid"})


def test_there_is_no_session_before_one_is_opened_or_given() -> None:
    with pytest.raises(RuntimeError, match="not open"):
        _ = unopened().session
    with pytest.raises(AssertionError, match="give FakeUnitOfWork a session"):
        _ = FakeUnitOfWork().session
