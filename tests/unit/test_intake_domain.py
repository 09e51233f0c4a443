"""Intake rules that are not a matter of field format."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from services.intake.domain import ConsentMissingError, Consent, Intake, IntakeError, Person

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
OLENA = Person("Olena", "Kovalenko", date(1987, 3, 14), "UA", ("uk", "ru"))


def record(**kw):
    args = dict(person=OLENA, residence_status="TEMP_PROTECTION_24", site="infopoint",
                needs=("living_costs",), consent=Consent(True, "signed_form", "uk"),
                recorded_by="staff", now=NOW)
    args.update(kw)
    return Intake.record(**args)


def test_a_recorded_intake_announces_itself():
    intake = record()
    assert intake.reference.startswith("LT-2026-")
    assert intake.events[0]["type"] == "intake.recorded"


def test_needs_cannot_be_referred_without_consent_and_the_field_is_named():
    with pytest.raises(ConsentMissingError) as exc:
        record(consent=Consent(False, "verbal_with_witness", "uk"))
    assert exc.value.field == "consent.share_with_partners"


def test_a_consultation_without_needs_needs_no_consent():
    assert record(needs=(), consent=Consent(False, "verbal_with_witness", "uk")).needs == ()


def test_a_birth_date_in_the_future_is_refused():
    future = Person("A", "B", date(2030, 1, 1), "UA", ("uk",))
    with pytest.raises(IntakeError) as exc:
        record(person=future)
    assert exc.value.field == "person.birth_date"


def test_a_need_listed_twice_is_refused():
    with pytest.raises(IntakeError) as exc:
        record(needs=("living_costs", "living_costs"))
    assert exc.value.field == "needs"
