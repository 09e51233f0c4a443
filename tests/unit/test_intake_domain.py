"""Intake rules beyond field format: dates, consents per partner, withdrawal."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from services.intake.domain import (Consent, HouseholdMember, Intake, IntakeError, Need, Person,
                                    ReferralView, name_problem, newer)
from shared.events.model import (ConsentGivenV1, ConsentWithdrawnV1, ReferralRequestedV1,
                                 ReferralStatusChangedV1)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
OLENA = Person("Olena", "Kovalenko", date(1987, 3, 14), "UA", ("uk", "ru"))
COARSE = Consent(True, "signed_form", "uk")


def record(**kw):
    args = dict(person=OLENA, residence_status="TEMP_PROTECTION_24", site="infopoint",
                needs=("living_costs",), consent=COARSE, recorded_by="staff", now=NOW)
    args.update(kw)
    return Intake.record(**args)


def test_a_recorded_intake_announces_itself_with_routing_facts_and_consents():
    intake = record(needs=(Need("living_costs", "urgent"),))
    [event] = intake.events
    assert (event.type, event.version, event.subject) == ("intake.recorded", 2,
                                                          f"intake/{intake.id}")
    assert intake.reference.startswith("LT-2026-")
    assert (event.person_id, event.person.birth_date) == (intake.person_id, OLENA.birth_date)
    payload = event.data()
    assert payload["needs"] == [{"code": "living_costs", "urgency": "urgent",
                                 "for_member": None}]
    assert [c["partner"] for c in payload["consents"]] == [None]
    assert payload["person"]["languages"] == ["uk", "ru"]


def test_a_need_for_a_household_member_names_them_and_the_event_carries_their_name():
    family = Person("Olena", "Koval", date(1987, 3, 14), "UA", ("uk",), household=(
        HouseholdMember("Taras", "Koval", "child", date(2018, 4, 1)),
        HouseholdMember("Mila", "Koval", "child", date(2020, 6, 1))))
    intake = record(person=family, needs=(Need("school_place", for_member=0),
                                          Need("school_place", for_member=1)))
    payload = intake.events[0].data()
    assert [(n["code"], n["for_member"]) for n in payload["needs"]] == [
        ("school_place", 0), ("school_place", 1)]
    assert [(m["given_name"], m["relation"]) for m in payload["person"]["household"]] == [
        ("Taras", "child"), ("Mila", "child")]


def test_the_coarse_consent_is_kept_as_a_consent_for_the_routed_partners():
    [consent] = record().consents
    assert consent.partner is None and consent.valid
    assert (consent.given_at, consent.recorded_by) == (NOW, "staff")


def test_consents_per_partner_are_recorded_each():
    intake = record(consent=None, consents=(Consent(True, "digital", "uk", partner="welfare"),
                                            Consent(True, "digital", "uk",
                                                    partner="jobcenter")))
    assert sorted(c.partner for c in intake.consents) == ["jobcenter", "welfare"]


def test_a_partner_named_twice_in_the_consents_is_refused():
    with pytest.raises(IntakeError) as exc:
        record(consents=(Consent(True, "digital", "uk", partner="welfare"),) * 2)
    assert exc.value.field == "consents"


def test_without_consent_the_intake_is_kept_and_no_consent_is_recorded():
    intake = record(consent=Consent(False, "verbal_with_witness", "uk"))
    assert intake.consents == ()
    assert intake.events[0].consents == ()


def test_a_withdrawal_is_an_event_and_cannot_happen_twice():
    intake = record()
    consent = intake.consents[0]
    event = consent.withdraw(person_id=intake.person_id, by="staff", reason="asked to", now=NOW)
    assert isinstance(event, ConsentWithdrawnV1) and not consent.valid
    assert (event.consent_id, event.person_id, event.withdrawn_at) == (consent.id,
                                                                      intake.person_id, NOW)
    assert event.subject == f"person/{intake.person_id}"
    with pytest.raises(IntakeError):
        consent.withdraw(person_id=intake.person_id, by="staff", reason=None, now=NOW)


def test_a_consent_given_later_is_announced_for_its_person():
    intake = record()
    event = intake.consents[0].given_to(str(intake.person_id))
    assert isinstance(event, ConsentGivenV1)
    assert (event.person_id, event.given_at, event.partner) == (intake.person_id, NOW, None)
    with pytest.raises(IntakeError):
        COARSE.given_to(intake.person_id)  # not given yet: nothing to announce


@pytest.mark.parametrize("changes, field", [
    (dict(person=Person("A", "B", date(2030, 1, 1), "UA", ("uk",))), "person.birth_date"),
    (dict(needs=("living_costs", "living_costs")), "needs"),
    (dict(arrival_date=date(2027, 1, 1)), "arrival_date"),
    (dict(arrival_date=date(1980, 1, 1)), "arrival_date"),
    (dict(person=Person("A", "B", date(1990, 1, 1), "UA", ("uk",), preferred_language="ar")),
     "person.preferred_language"),
    (dict(person=Person("A", "B", date(1990, 1, 1), "UA", ("uk",), household=(
        HouseholdMember("C", "B", "child", date(2030, 1, 1)),))), "person.household.0.birth_date"),
    (dict(person=Person("A", "B", date(1, 1, 1), "UA", ("uk",))), "person.birth_date"),
    (dict(person=Person("A", "B", date(1899, 12, 31), "UA", ("uk",))), "person.birth_date"),
    (dict(person=Person("A", "B", date(1990, 1, 1), "UA", ("uk",), household=(
        HouseholdMember("C", "B", "parent", date(1, 1, 1)),))), "person.household.0.birth_date"),
    (dict(needs=(Need("school_place", for_member=0),)), "needs.0.for_member"),
    (dict(person=Person("A", "B", date(1990, 1, 1), "UA", ("uk",), household=(
        HouseholdMember("C", "B", "child", date(2018, 1, 1)),)),
          needs=(Need("living_costs"), Need("school_place", for_member=1))),
     "needs.1.for_member"),
    (dict(person=Person("A", "B", date(1990, 1, 1), "UA", ("uk",), household=(
        HouseholdMember("C", "B", "child", date(2018, 1, 1)),)),
          needs=(Need("school_place", for_member=0), Need("school_place", for_member=0))),
     "needs"),
])
def test_impossible_facts_are_refused_naming_the_field(changes, field):
    with pytest.raises(IntakeError) as exc:
        record(**changes)
    assert exc.value.field == field


def test_birth_dates_from_1900_to_today_by_the_injected_clock_are_taken():
    born = Person("A", "B", date(1900, 1, 1), "UA", ("uk",), household=(
        HouseholdMember("C", "B", "child", NOW.date()),))
    assert record(person=born).person.birth_date == date(1900, 1, 1)


@pytest.mark.parametrize("name", [
    "Olena", "Коваленко", "محمد", "مُحَمَّد", "عبد الله", "Zoë", "Nguyễn Thị", "Ðorđe",
    "O'Brien", "D\u2019Angelo", "Jean-Luc", "Anna Maria",
    "\u0639\u0644\u06cc\u200c\u0632\u0627\u062f\u0647",  # Persian Alizadeh, with ZWNJ
    "\u0dc1\u0dca\u200d\u0dbb\u0dd3",  # Sinhala Sri, with ZWJ
    "Ŀuís", "ʻOkalani", "李小龙", "Ἀλέξανδρος"])
def test_names_of_any_script_with_their_marks_and_joiners_pass(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("name, problem", [
    ("", "empty"), ("   ", "empty"), ("\u3000", "empty"),
    ("Ol\x00ena", "control"), ("Ol\x1b[31mena", "control"), ("Olena\r\nX: 1", "control"),
    ("Ol\tena", "control"), ("Ol\x7fena", "control"), ("Ol\x85ena", "control"),
    ("Ol\u2028ena", "control"),
    ("Ol\u200bena", "invisible"), ("Ol\u200cena", "invisible"), ("Ol\u200dena", "invisible"),
    ("\u200c", "invisible"), ("Olena\u2060", "invisible"), ("\ufeffOlena", "invisible"),
    ("\u202eoknelavoK", "invisible"), ("\u202aOlena\u202c", "invisible"),
    ("\u2066Olena\u2069", "invisible"), ("Ol\u200eena", "invisible"),
    ("Ol\u200fena", "invisible"), ("\u061cمحمد", "invisible"), ("Ol\u00adena", "invisible"),
    ("Ol\ue000ena", "script"), ("Ol\ud800ena", "script"), ("Ol\U000e0041ena", "invisible"),
])
def test_control_invisible_and_blank_names_are_refused_saying_why(name, problem):
    assert problem in (name_problem(name) or "")



REFERRAL = {"referral_id": "0d7f8c1e-6a43-4a59-9d2a-5f0a4b6c2e11",
            "intake_id": "5b2a1f3e-0c5d-4d4e-8e9f-1a2b3c4d5e6f", "need": "living_costs",
            "partner": "jobcenter", "service": "sgb2"}


def test_the_intake_learns_a_referral_from_its_request_then_its_status_changes():
    requested = ReferralRequestedV1.from_data({
        **REFERRAL, "intake_reference": "LT-2026-ABCDEF", "routing_reason": "SGB II: age 39",
        "status": "requested", "version": 1, "requested_at": "2026-11-21T09:00:00+00:00",
        "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
        "person": {"given_name": "Olena", "family_name": "Kovalenko",
                   "birth_date": "1987-03-14", "nationality": "UA", "languages": ["uk"]}})
    seen = ReferralView.learnt_from(requested, NOW)
    assert (seen.status, seen.reason, seen.version) == ("requested", "SGB II: age 39", 1)
    assert seen.referral_id == requested.referral_id and seen.partner_case_ref is None
    changed = ReferralStatusChangedV1.from_data({
        **REFERRAL, "status": "received", "previous_status": "requested", "reason": None,
        "partner_case_ref": "JC-1", "version": 2, "changed_at": "2026-11-21T10:00:00+00:00",
        "changed_by": "partner:jobcenter"})
    later = ReferralView.learnt_from(changed, NOW)
    assert (later.status, later.reason, later.partner_case_ref) == ("received", None, "JC-1")
    assert newer(seen, later) and not newer(later, seen)


def test_facts_left_out_are_added_once_and_announced():
    intake = record()
    event = intake.add_facts(first_issue_date=date(2022, 3, 20), by="staff", now=NOW)
    assert (event.type, event.first_issue_date, event.arrival_date) == (
        "intake.facts_added", date(2022, 3, 20), None)
    assert intake.residence.first_issue_date == date(2022, 3, 20)
    with pytest.raises(IntakeError) as exc:  # a change is a new consultation's
        intake.add_facts(first_issue_date=date(2022, 4, 1), by="staff", now=NOW)
    assert exc.value.field == "residence.first_issue_date"
    for facts, field in [({}, "facts"), ({"arrival_date": date(2030, 1, 1)}, "arrival_date"),
                         ({"arrival_date": date(1950, 1, 1)}, "arrival_date")]:
        with pytest.raises(IntakeError) as exc:
            intake.add_facts(**facts, by="staff", now=NOW)
        assert exc.value.field == field
