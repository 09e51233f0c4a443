"""Inbound referrals' rules (services/intake/inbound.py): received -> invited -> arrived /
declined / not reached, what each move needs, and events with ids and codes only."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest

from services.intake.inbound import (ALLOWED, Appointment, AttestedConsent, InboundError,
                                     InboundStatus, TransitionRefused, new_referral)
from shared.events.contracts import validate_payload
from shared.events.model import InboundReferralReceivedV1, InboundReferralStatusChangedV1

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=timezone.utc)
CONSENT = AttestedConsent("signed_form", "uk", "2026-01")
PERSON = {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
          "nationality": "UA", "languages": ["uk"]}
MEETING = Appointment(date(2026, 3, 9), time(10, 30), "centre")


def received(**kw):
    return new_referral("registration", "buerger1", PERSON, "TEMP_PROTECTION_24",
                        kw.get("needs", ({"code": "orientation_counselling"},)), CONSENT, NOON)


def test_a_new_referral_is_received_from_its_sender():
    r = received()
    assert r.status is InboundStatus.RECEIVED and r.sender == "registration"
    assert r.created_at == r.updated_at == NOON and r.need_codes == ("orientation_counselling",)
    uuid.UUID(r.id)


@pytest.mark.parametrize("needs", [(), ({"code": "housing"}, {"code": "housing"})])
def test_a_referral_names_each_need_once_and_at_least_one(needs):
    with pytest.raises(InboundError) as refused:
        received(needs=needs)
    assert refused.value.field == "needs"


def test_invited_then_arrived_keeps_the_appointment_and_links_the_intake():
    later = NOON + timedelta(hours=1)
    invited = received().moved_to(InboundStatus.INVITED, later, "anna", appointment=MEETING)
    assert invited.appointment == MEETING and invited.changed_by == "anna"
    assert invited.updated_at == later
    again = invited.moved_to(InboundStatus.INVITED, later, "anna",
                             appointment=Appointment(date(2026, 3, 10), time(9, 0), "infopoint"))
    assert again.appointment.site == "infopoint"
    arrived = again.moved_to(InboundStatus.ARRIVED, later, "anna", intake_id="i1",
                             person_id="p1")
    assert (arrived.intake_id, arrived.person_id) == ("i1", "p1")
    assert arrived.appointment.site == "infopoint"


@pytest.mark.parametrize("status, details, field", [
    (InboundStatus.INVITED, {}, "date"),
    (InboundStatus.DECLINED, {"reason": "  "}, "reason"),
    (InboundStatus.ARRIVED, {}, "intake_id"),
])
def test_a_move_without_what_it_needs_is_refused_naming_the_field(status, details, field):
    with pytest.raises(InboundError) as refused:
        received().moved_to(status, NOON, "anna", **details)
    assert refused.value.field == field


def test_a_declined_referral_keeps_its_reason_in_words():
    r = received().moved_to(InboundStatus.DECLINED, NOON, "anna", reason=" not our city ")
    assert r.decline_reason == "not our city"


@pytest.mark.parametrize("final", [InboundStatus.ARRIVED, InboundStatus.DECLINED])
def test_an_ended_referral_moves_no_more(final):
    ended = received().moved_to(final, NOON, "anna", intake_id="i1", reason="duplicate")
    assert ALLOWED[final] == set()
    for wanted in InboundStatus:
        with pytest.raises(TransitionRefused):
            ended.moved_to(wanted, NOON, "anna", appointment=MEETING, reason="x",
                           intake_id="i2")


def test_not_reached_twice_is_refused_but_a_later_invitation_is_not():
    missed = received().moved_to(InboundStatus.NOT_REACHED, NOON, "anna")
    with pytest.raises(TransitionRefused):
        missed.moved_to(InboundStatus.NOT_REACHED, NOON, "anna")
    assert missed.moved_to(InboundStatus.INVITED, NOON, "anna",
                           appointment=MEETING).status is InboundStatus.INVITED


def test_an_appointment_is_at_a_known_site():
    with pytest.raises(InboundError) as refused:
        Appointment(date(2026, 3, 9), time(10, 0), "moon")
    assert refused.value.field == "site"
    assert MEETING.as_dict() == {"date": "2026-03-09", "time": "10:30", "site": "centre"}
    assert Appointment.from_dict(MEETING.as_dict()) == MEETING


def test_events_carry_ids_and_codes_never_a_name_or_the_reason():
    r = received()
    got = r.event()
    assert isinstance(got, InboundReferralReceivedV1)
    assert got.needs == ("orientation_counselling",) and got.sender == "registration"
    declined = r.moved_to(InboundStatus.DECLINED, NOON, "anna", reason="Olena moved away")
    changed = declined.event()
    assert isinstance(changed, InboundReferralStatusChangedV1)
    assert changed.status == "declined" and changed.intake_id is None
    for event in (got, changed):
        body = repr(event)
        assert "Olena" not in body and "Kovalenko" not in body and "anna" not in body
        validate_payload(event.type, event.version, event.data())
    invited = r.moved_to(InboundStatus.INVITED, NOON, "anna", appointment=MEETING).event()
    assert invited.appointment_site == "centre"
