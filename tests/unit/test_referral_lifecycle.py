"""Referral lifecycle on FHIR Task status codes: guarded transitions, history, events."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from services.referral.domain import (Reason, Referral, Route, SharingBasis,
                                     TransitionNotAllowed, coded, sharing_basis)
from shared.events.model import ReferralRequestedV1
from shared.events.vocabulary import ReferralStatus

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


MBE = Route("welfare", "mbe", "orientation-mbe", "MBE: age 39 ≥ 27")


CONSENT = SharingBasis(consent_id=str(uuid.uuid4()))
# What a referral passes on to its partner (what the intake recorded).
SHARE = {"person": {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1987-03-14",
                    "nationality": "SY", "languages": ["ar", "de"]},
         "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
         "consents": []}


def referral(route=MBE, basis=CONSENT):
    return Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-2026-ABCDEF",
                         need="orientation_counselling", route=route, by="routing", now=NOW,
                         basis=basis, share=SHARE)


def test_a_routed_referral_is_requested_with_its_reason_in_the_history():
    r = referral()
    assert r.status == "requested" and r.partner == "welfare"
    assert r.history[0].reason == "MBE: age 39 ≥ 27"
    [requested] = r.events  # it leaves for its partner with what the intake recorded
    assert isinstance(requested, ReferralRequestedV1) and requested.partner == "welfare"
    assert requested.consent_id == uuid.UUID(CONSENT.consent_id)
    assert requested.person.birth_date.isoformat() == SHARE["person"]["birth_date"]


def test_an_unroutable_need_is_put_on_hold_and_announced():
    r = referral(route=None)
    assert r.status == "on-hold" and r.reason == "no_matching_rule"
    assert [e.type for e in r.events] == ["referral.status_changed"]
    assert r.events[0].status is ReferralStatus.ON_HOLD and r.events[0].previous_status is None


def test_opening_the_partner_case_makes_it_received_and_records_the_reference():
    r = referral()
    announced = r.record_partner_case("WF-1", by="partner:welfare", now=NOW)
    assert (r.status, r.partner_case_ref, r.version) == ("received", "WF-1", 2)
    assert announced == r.events[-1:]
    assert announced[0].status is ReferralStatus.RECEIVED
    assert announced[0].previous_status == "requested"
    assert announced[0].partner_case_ref == "WF-1" and announced[0].referral_version == 2


def test_a_late_case_opening_keeps_a_status_the_partner_already_reported():
    r = referral()
    r.change_status("accepted", by="partner:welfare", reason=None, now=NOW, actor="partner")
    r.record_partner_case("WF-1", by="partner:welfare", now=NOW)
    assert r.status == "accepted" and r.partner_case_ref == "WF-1"


def test_a_slot_booked_after_the_status_moved_on_still_reaches_the_intake():
    r = referral()
    r.change_status("accepted", by="partner:welfare", reason=None, now=NOW, actor="partner")
    version, slot = r.version, {"starts_at": "2026-11-23T09:15:00+01:00", "location": "BD"}
    r.record_partner_case("BD-1", by="partner:registration", now=NOW, appointment=slot)
    assert r.version == version + 1 and r.status == "accepted"
    assert r.events[-1].appointment == slot
    assert not r.record_partner_case("BD-1", by="partner:registration", now=NOW,
                                     appointment=slot)
    assert r.version == version + 1  # the same slot again: nothing new to tell


@pytest.mark.parametrize("terminal, actor, reason, outcome", [
    ("completed", "partner", None, "counselling_started"),
    ("rejected", "partner", "no_capacity", None),
    ("cancelled", "staff", "person_withdrew", None),
    ("failed", "system", "delivery_failed", None)])
def test_nothing_follows_a_terminal_status(terminal, actor, reason, outcome):
    r = referral()
    r.change_status(terminal, by="x", reason=reason, outcome=outcome, actor=actor, now=NOW)
    with pytest.raises(TransitionNotAllowed):
        r.change_status("accepted", by="x", reason=None, now=NOW, actor="partner")


def test_every_change_is_in_the_history_with_who_and_why():
    r = referral()
    r.change_status("accepted", by="partner:welfare", reason=None, now=NOW, actor="partner")
    r.change_status("completed", by="partner:welfare", reason=None, now=NOW, actor="partner",
                    outcome="counselling_started", note="first appointment kept")
    assert [(h.previous_status, h.status) for h in r.history] == [
        (None, "requested"), ("requested", "accepted"), ("accepted", "completed")]
    assert r.history[-1].changed_by == "partner:welfare"
    assert r.version == 3


def test_without_consent_or_legal_basis_a_referral_waits_on_hold():
    r = referral(basis=None)
    assert (r.status, r.reason) == ("on-hold", "consent_missing")
    assert r.partner == "welfare"  # still routed: it can leave once a consent arrives


def test_a_consent_given_later_lets_the_waiting_referral_leave():
    r = referral(basis=None)
    r.events.clear()
    consent_id = str(uuid.uuid4())
    announced = r.resume_with(SharingBasis(consent_id=consent_id), by="staff", now=NOW)
    assert (r.status, r.consent_id) == ("requested", consent_id)
    assert [e.type for e in announced] == ["referral.requested", "referral.status_changed"]
    assert announced[0].consent_id == uuid.UUID(consent_id)


def test_withdrawing_the_consent_cancels_an_unfinished_referral():
    r = referral()
    r.change_status("accepted", by="partner:welfare", reason=None, now=NOW, actor="partner")
    assert r.stop_sharing(by="staff", now=NOW)
    assert (r.status, r.reason) == ("cancelled", "consent_withdrawn")
    done = referral()
    done.change_status("completed", by="partner:welfare", reason=None, now=NOW,
                       actor="partner", outcome="case_closed")
    assert not done.stop_sharing(by="staff", now=NOW)


@pytest.mark.parametrize("consents, bases, expected", [
    ([{"consent_id": "p", "partner": "welfare"}, {"consent_id": "c", "partner": None}], {},
     SharingBasis(consent_id="p")),
    ([{"consent_id": "c", "partner": None}], {}, SharingBasis(consent_id="c")),
    ([{"consent_id": "j", "partner": "jobcenter"}], {"welfare": None}, None),
    ([], {"welfare": "§ x"}, SharingBasis(legal_basis="§ x")),
])
def test_what_allows_sharing_with_a_partner(consents, bases, expected):
    assert sharing_basis("welfare", consents, bases) == expected


@pytest.mark.parametrize("actor, new, reason, outcome", [
    ("staff", "accepted", None, None),          # only the partner accepts
    ("partner", "failed", "delivery_failed", None),  # delivery failures are Lotse's to say
    ("partner", "rejected", None, None),        # a rejection needs a coded reason
    ("staff", "cancelled", "because", None),    # ... from the list
    ("partner", "completed", None, None),       # a completion needs an outcome
])
def test_the_guard_refuses_wrong_actors_and_uncoded_reasons(actor, new, reason, outcome):
    with pytest.raises(TransitionNotAllowed):
        referral().change_status(new, by="x", reason=reason, outcome=outcome, actor=actor,
                                 now=NOW)


def test_free_text_reasons_become_other_with_a_note():
    assert coded("rejected", "no German course this term") == ("other",
                                                              "no German course this term")
    assert coded("rejected", "no_capacity") == (Reason.NO_CAPACITY, None)
    assert coded("accepted", "gladly") == (None, "gladly")
    # a hold routing sets and lifts is not a partner's to report: routing would lift it
    assert coded("on-hold", "fact_missing") == ("other", "fact_missing")
    assert coded("on-hold", "partner_paused") == (Reason.PARTNER_PAUSED, None)
