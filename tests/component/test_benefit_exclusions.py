"""Issue 19, class 1, through the public intake API: the purpose of residence and the arrival
date are recorded, travel in intake.recorded, and route an EU citizen's living costs as
§ 7 Abs. 1 Satz 2 SGB II says (SQLite, no broker: the event is handed to the referral
service's consumer)."""
from __future__ import annotations

import copy
from datetime import date

from sqlalchemy import func, select

from services.intake import tables as intake_tables
from services.referral import repository
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import deliver
from tests.component.conftest import token

EU_CITIZEN = {
    "person": {"given_name": "Ioana", "family_name": "Popescu", "birth_date": "1988-08-08",
               "nationality": "RO", "languages": ["ro"]},
    "residence_status": "EU_FREE_MOVEMENT", "site": "centre",
    "needs": ["living_costs"],
    "consent": {"share_with_partners": True, "method": "signed_form", "language": "ro"},
}


def _record(intake_client, staff, body) -> tuple[int, dict]:
    r = intake_client.post("/api/v1/intakes", json=body, headers=staff)
    return r.status_code, r.get_json()


def _routed(intake_deps, referral_deps, intake_id: str):
    """Hand the intake's event to the referral service; its living-costs referral."""
    with intake_deps.session_factory() as s:
        body = next(b for b, in s.execute(select(intake_tables.outbox.c.body))
                    if intake_id in b)
    open_referrals = next(sub for sub in SUBSCRIPTIONS if sub.name == "open_referrals")
    deliver(body, open_referrals, referral_deps.uow)
    with referral_deps.session_factory() as s:
        (referral,) = [r for r in repository.find(s) if str(r.intake_id) == intake_id]
    return referral


def test_an_eu_citizen_looking_for_work_is_sent_to_counselling_not_the_jobcenter(
        intake_client, intake_deps, referral_deps, settings):
    staff = token(intake_client, "staff", "pw-staff")
    body = {**copy.deepcopy(EU_CITIZEN), "arrival_date": "2025-02-01",
            "residence": {"purpose": "job_seeking"}}
    status, intake = _record(intake_client, staff, body)
    assert status == 201, intake
    referral = _routed(intake_deps, referral_deps, intake["id"])
    assert (referral.partner, referral.service) == ("welfare", "mbe")
    assert "purpose job_seeking" in referral.routing_reason
    assert "§ 7 Abs. 1 Satz 2 Nr. 2 Buchst. b SGB II" in referral.routing_reason
    assert referral.share["residence_purpose"] == "job_seeking"
    assert referral.share["arrival_date"] == "2025-02-01"


def test_a_worker_goes_to_the_jobcenter_and_a_missing_purpose_is_asked_for(
        intake_client, intake_deps, referral_deps, settings):
    staff = token(intake_client, "staff", "pw-staff")
    worker = {**copy.deepcopy(EU_CITIZEN), "residence": {"purpose": "work"},
              "arrival_date": date.today().isoformat()}
    status, intake = _record(intake_client, staff, worker)
    assert status == 201, intake
    assert _routed(intake_deps, referral_deps, intake["id"]).partner == "jobcenter"

    status, intake = _record(intake_client, staff, copy.deepcopy(EU_CITIZEN))
    assert status == 201, intake
    waiting = _routed(intake_deps, referral_deps, intake["id"])
    assert (waiting.status, waiting.reason, waiting.partner) == ("on-hold", "fact_missing",
                                                                 None)
    # job-seeking alone excludes for the first five years: both facts decide
    assert waiting.routing_reason.startswith("fact missing: arrival_date, residence_purpose")


def test_an_unknown_purpose_is_refused_naming_the_field_and_nothing_is_stored(
        intake_client, intake_deps):
    staff = token(intake_client, "staff", "pw-staff")
    body = {**copy.deepcopy(EU_CITIZEN), "residence": {"purpose": "tourism"}}
    status, answer = _record(intake_client, staff, body)
    assert status == 422
    assert "purpose" in str(answer["errors"]["json"]["residence"])
    with intake_deps.session_factory() as s:
        assert s.execute(select(func.count()).select_from(intake_tables.intakes)
                         ).scalar_one() == 0
