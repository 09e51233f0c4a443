"""Why a message was parked: the cause travels as the reason's first word and is read back;
reasons parked before causes existed are read by their wording."""
from __future__ import annotations

import pytest

from shared.bus.causes import ParkCause, gave_up, parked, read_cause
from shared.bus.parking import _death_reason


@pytest.mark.parametrize("cause", list(ParkCause))
def test_a_cause_and_its_detail_come_back_as_parked(cause):
    assert read_cause(parked(cause, "KeyError: 'x' [y]")) == (cause, "KeyError: 'x' [y]")


def test_a_message_given_up_on_keeps_the_last_failure_as_detail():
    cause, detail = read_cause(gave_up(6, "OperationalError: connection refused"))
    assert cause is ParkCause.GAVE_UP
    assert detail == "gave up after 6 attempts: OperationalError: connection refused"


def test_the_brokers_own_dead_lettering_is_its_own_cause():
    headers = {"x-death": [{"reason": "expired", "count": 2}]}
    assert read_cause(_death_reason(headers))[0] is ParkCause.BROKER
    assert read_cause(_death_reason({}))[0] is ParkCause.UNKNOWN


@pytest.mark.parametrize(("reason", "cause"), [
    ("gave up after 6 attempts: ValueError: bad date", ParkCause.GAVE_UP),
    ("undecodable message: 'utf-8' codec can't decode", ParkCause.UNREADABLE),
    ("dead-lettered by the broker (rejected, 3 deliveries)", ParkCause.BROKER),
    ("unknown event type/version intake.recorded v9", ParkCause.CONTRACT),
    ("invalid envelope", ParkCause.CONTRACT),
    ("body is not JSON (Expecting value)", ParkCause.CONTRACT),
    ("referral.open_referrals does not handle consent.given", ParkCause.MISROUTED),
    ("KeyError: 'person'", ParkCause.UNKNOWN),
    ("[no_such_cause] text", ParkCause.UNKNOWN),
    ("", ParkCause.UNKNOWN),
])
def test_reasons_parked_before_causes_are_read_by_their_wording(reason, cause):
    assert read_cause(reason) == (cause, reason)
