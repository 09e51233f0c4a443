"""Working days in NRW and the deadline rules of a referral, with a controlled clock."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from services.referral.deadlines import CITY_TIME, DeadlinePolicy, WorkingCalendar
from services.referral.domain import Referral, Route, SharingBasis
from shared.events.vocabulary import DeadlinePhase

CAL = WorkingCalendar("NW")
POLICY = DeadlinePolicy("welfare", "mbe", ack_days=2, completion_days=5, expire_days=4)


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=CITY_TIME) \
        .astimezone(timezone.utc)


def city_day(moment: datetime) -> str:
    return moment.astimezone(CITY_TIME).date().isoformat()


def test_working_days_skip_weekends_and_nrw_public_holidays():
    # Thursday before Easter 2026: Good Friday and Easter Monday are holidays
    assert city_day(CAL.add_working_days(at("2026-04-02"), 1)) == "2026-04-07"
    # Corpus Christi (4 June 2026) is a holiday in NRW, not everywhere in Germany
    assert city_day(CAL.add_working_days(at("2026-06-03"), 1)) == "2026-06-05"
    assert city_day(CAL.add_working_days(at("2026-11-20"), 1)) == "2026-11-23"  # Fri → Mon
    assert CAL.working_days_between(at("2026-11-20"), at("2026-11-23")) == 1


SHARE = {"person": {"given_name": "Amina", "family_name": "Haddad", "birth_date": "1987-03-14",
                    "nationality": "SY", "languages": ["ar"]},
         "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form"}


def referral(now: datetime) -> Referral:
    r = Referral.open(intake_id=uuid.uuid4(), intake_reference="LT-2026-ABCDEF",
                      need="orientation_counselling", now=now, by="routing",
                      route=Route("welfare", "mbe", "orientation-mbe", "MBE"),
                      basis=SharingBasis(consent_id=str(uuid.uuid4())), share=SHARE)
    r.plan_deadlines(POLICY, CAL, now)
    r.events.clear()
    return r


def test_a_requested_referral_is_due_for_acknowledgement_and_may_expire():
    r = referral(at("2026-11-23"))  # Monday
    assert city_day(r.ack_due_at) == "2026-11-25"
    assert city_day(r.expires_at) == "2026-11-27"


def test_reminder_before_the_due_day_then_overdue_then_nothing_more():
    r = referral(at("2026-11-23"))
    assert r.check_deadlines(POLICY, CAL, at("2026-11-23", 15)) is None
    assert r.check_deadlines(POLICY, CAL, at("2026-11-24")) == "reminded"
    assert r.check_deadlines(POLICY, CAL, at("2026-11-24", 16)) is None  # once
    assert r.check_deadlines(POLICY, CAL, at("2026-11-26")) == "overdue"
    assert r.attention() == "overdue"
    assert r.check_deadlines(POLICY, CAL, at("2026-11-26", 12)) is None
    assert [e.type for e in r.events] == ["referral.reminder_due", "referral.overdue"]
    assert r.events[-1].phase is DeadlinePhase.ACKNOWLEDGEMENT
    assert r.events[-1].due_at == r.ack_due_at


def test_an_unacknowledged_referral_expires_with_a_coded_reason():
    r = referral(at("2026-11-23"))
    assert r.check_deadlines(POLICY, CAL, at("2026-11-28")) == "expired"
    assert (r.status, r.reason) == ("cancelled", "expired")


def test_acceptance_starts_the_completion_clock_afresh():
    r = referral(at("2026-11-23"))
    r.check_deadlines(POLICY, CAL, at("2026-11-26"))  # overdue for acknowledgement
    r.change_status("accepted", by="partner:welfare", reason=None, actor="partner",
                    now=at("2026-11-26", 11))
    r.plan_deadlines(POLICY, CAL, at("2026-11-26", 11))
    assert r.overdue_since is None and r.attention() is None
    assert city_day(r.complete_due_at) == "2026-12-03"
    assert r.check_deadlines(POLICY, CAL, at("2026-11-26", 12) + timedelta(days=30)) == \
        "overdue"


def test_reminders_from_is_where_working_days_between_passes_the_reminder_window():
    start = datetime(2026, 12, 21, 15, 0, tzinfo=timezone.utc)  # Christmas in between
    for hours in range(0, 24 * 21, 5):
        now = start + timedelta(hours=hours)
        for days in (0, 1, 2):
            horizon = CAL.reminders_from(now, days)
            for due in (horizon - timedelta(seconds=1), horizon,
                        now + timedelta(hours=hours % 11 + 1)):
                if due > now:
                    assert (CAL.working_days_between(now, due) <= days) == (due < horizon)
