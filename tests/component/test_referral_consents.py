"""The referral service lets a referral leave only with a consent or a legal basis."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from services.referral import handlers, repository, tables
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver
from shared.events.envelope import new_envelope

OPEN, OPENED, REPORT, CONSENTS, *_ = SUBSCRIPTIONS
PERSON = str(uuid.uuid4())


NEEDS = ("address_registration", "living_costs", "orientation_counselling")


def intake_v2(consents: list[dict], needs=NEEDS, status: str = "TEMP_PROTECTION_24") -> str:
    intake_id = str(uuid.uuid4())
    data = {
        "intake_id": intake_id, "person_id": PERSON, "reference": "LT-2026-ABCDEF",
        "recorded_at": "2026-11-21T09:00:00+00:00", "recorded_by": "staff",
        "site": "infopoint", "channel": "in_person",
        "person": {"given_name": "Olena", "family_name": "Kovalenko",
                   "birth_date": "1987-03-14", "nationality": "UA", "nationalities": ["UA"],
                   "languages": ["uk"], "preferred_language": "uk", "interpreter": "none",
                   "household": [{"relation": "child", "birth_date": "2021-06-01"}]},
        "residence": {"status": status, "legal_basis": None,
                      "document_type": None, "valid_until": None,
                      "first_issue_date": "2022-04-01"},
        "arrival_date": None,
        "needs": [{"code": c, "urgency": "normal"} for c in needs],
        "consents": consents}
    return new_envelope("intake.recorded", 2, "intake", f"intake/{intake_id}", data).to_json()


def consent_event(event_type: str, consent_id: str, partner: str | None) -> str:
    data = {"consent_id": consent_id, "person_id": PERSON, "partner": partner}
    if event_type == "consent.given":
        data.update(method="digital", language="uk", purpose="referral",
                    given_at="2026-11-21T10:00:00+00:00")
    else:
        data.update(withdrawn_at="2026-11-21T10:00:00+00:00", withdrawn_by="staff",
                    reason=None)
    return new_envelope(event_type, 1, "intake", f"person/{PERSON}", data).to_json()


def by_partner(deps) -> dict:
    with deps.session_factory() as s:
        return {r.partner: r for r in repository.find(s)}


def requested_partners(deps) -> list[str]:
    with deps.session_factory() as s:
        rows = s.execute(select(tables.outbox.c.body)
                         .where(tables.outbox.c.event_type == "referral.requested")).all()
    import json
    return sorted(json.loads(r.body)["data"]["partner"] for r in rows)


def test_without_consent_only_the_partner_with_a_legal_basis_is_requested(referral_deps):
    assert deliver(intake_v2([]), OPEN, referral_deps.uow).verdict is Verdict.ACK
    refs = by_partner(referral_deps)
    assert refs["registration"].status == "requested"
    assert refs["registration"].legal_basis.startswith("Art. 6(1)(e)")
    for partner in ("jobcenter", "welfare"):
        assert (refs[partner].status, refs[partner].reason) == ("on-hold", "consent_missing")
    assert requested_partners(referral_deps) == ["registration"]


def test_a_partner_consent_lets_only_that_partner_s_referral_leave(referral_deps):
    consent = str(uuid.uuid4())
    deliver(intake_v2([{"consent_id": consent, "partner": "welfare", "method": "digital",
                        "language": "uk", "purpose": "referral",
                        "information_version": None}]), OPEN, referral_deps.uow)
    refs = by_partner(referral_deps)
    assert refs["welfare"].status == "requested" and refs["welfare"].consent_id == consent
    assert refs["jobcenter"].status == "on-hold"


def test_a_consent_given_later_releases_the_waiting_referral(referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)
    consent = str(uuid.uuid4())
    given = consent_event("consent.given", consent, "welfare")
    assert deliver(given, CONSENTS, referral_deps.uow).verdict is Verdict.ACK
    refs = by_partner(referral_deps)
    assert refs["welfare"].status == "requested" and refs["welfare"].consent_id == consent
    assert refs["jobcenter"].status == "on-hold"
    assert requested_partners(referral_deps) == ["registration", "welfare"]


def test_withdrawing_a_consent_cancels_the_referrals_relying_on_it(referral_deps):
    consent = str(uuid.uuid4())
    deliver(intake_v2([{"consent_id": consent, "partner": None, "method": "signed_form",
                        "language": "uk", "purpose": "referral",
                        "information_version": None}]), OPEN, referral_deps.uow)
    deliver(consent_event("consent.withdrawn", consent, None), CONSENTS, referral_deps.uow)
    refs = by_partner(referral_deps)
    assert (refs["welfare"].status, refs["welfare"].reason) == ("cancelled", "consent_withdrawn")
    assert refs["jobcenter"].status == "cancelled"
    assert refs["registration"].status == "requested"  # it rests on its legal basis


def test_a_late_consent_does_not_skip_a_prerequisite(referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)  # the registration is still only requested
    deliver(consent_event("consent.given", str(uuid.uuid4()), "jobcenter"), CONSENTS,
            referral_deps.uow)
    jobcenter = by_partner(referral_deps)["jobcenter"]
    assert (jobcenter.status, jobcenter.reason) == ("on-hold", "prerequisite_pending")
    assert jobcenter.consent_id is not None


def test_a_temporary_protection_first_granted_after_march_2025_goes_to_the_sozialamt(
        referral_deps):
    event = json.loads(intake_v2([{"consent_id": str(uuid.uuid4()), "partner": None,
                                   "method": "signed_form", "language": "uk",
                                   "purpose": "referral", "information_version": None}]))
    event["data"]["residence"]["first_issue_date"] = "2025-05-01"
    event["time"] = "2026-11-21T09:00:00+00:00"
    deliver(json.dumps(event), OPEN, referral_deps.uow)
    refs = by_partner(referral_deps)
    assert "jobcenter" not in refs and refs["sozialamt"].service == "asylblg"
    assert "first issued 2025-05-01" in refs["sozialamt"].routing_reason


# -- one consent check, against the consents as they stand at that moment ------------------

def consent(partner: str | None) -> dict:
    return {"consent_id": str(uuid.uuid4()), "partner": partner, "method": "signed_form",
            "language": "uk", "purpose": "referral", "information_version": None}


def withdraw(deps, given: dict) -> None:
    event = consent_event("consent.withdrawn", given["consent_id"], given["partner"])
    assert deliver(event, CONSENTS, deps.uow).verdict is Verdict.ACK


def test_a_withdrawal_that_overtakes_its_intake_holds_the_referrals(referral_deps):
    coarse = consent(None)
    withdraw(referral_deps, coarse)  # the withdrawal's queue was faster than the intake's
    deliver(intake_v2([coarse]), OPEN, referral_deps.uow)
    refs = by_partner(referral_deps)
    for partner in ("jobcenter", "welfare"):
        assert (refs[partner].status, refs[partner].reason) == ("on-hold", "consent_missing")
    assert requested_partners(referral_deps) == ["registration"]


def test_a_consent_given_after_its_withdrawal_releases_nothing(referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)
    late = consent("welfare")
    withdraw(referral_deps, late)
    deliver(consent_event("consent.given", late["consent_id"], "welfare"), CONSENTS,
            referral_deps.uow)
    assert by_partner(referral_deps)["welfare"].status == "on-hold"
    assert requested_partners(referral_deps) == ["registration"]


def test_a_referral_by_hand_after_the_withdrawal_is_refused(referral_deps):
    coarse = consent(None)
    deliver(intake_v2([coarse]), OPEN, referral_deps.uow)
    withdraw(referral_deps, coarse)
    intake_id = str(by_partner(referral_deps)["welfare"].intake_id)
    with pytest.raises(handlers.ReferralActionError) as refused:
        handlers.refer_by_hand(intake_id, "living_costs", "sozialamt", "sgb12", "sam", None,
                               referral_deps.uow())
    assert refused.value.field == "partner"
    assert "sozialamt" not in by_partner(referral_deps)
    assert requested_partners(referral_deps) == ["registration", "welfare"]


def test_a_re_assignment_after_the_withdrawal_is_refused(referral_deps):
    coarse = consent(None)
    deliver(intake_v2([coarse]), OPEN, referral_deps.uow)
    withdraw(referral_deps, coarse)
    cancelled = by_partner(referral_deps)["welfare"]
    with pytest.raises(handlers.ReferralActionError):
        handlers.reassign_referral(str(cancelled.id), "welfare", "mbe_diakonie", "sam", None,
                                   referral_deps.uow())
    assert by_partner(referral_deps)["welfare"].superseded_by is None


def test_a_re_route_after_a_rejection_checks_the_consents_in_force(referral_deps):
    course, coarse = consent("course_provider"), consent(None)
    # entitled to an integration course (§ 44 (1) AufenthG): the course provider first
    deliver(intake_v2([course, coarse], needs=("language_course",), status="REFUGEE_RECOGNISED"),
            OPEN, referral_deps.uow)
    withdraw(referral_deps, coarse)  # the course provider's own consent still stands
    first = by_partner(referral_deps)["course_provider"]
    assert first.status == "requested" and first.consent_id == course["consent_id"]
    rejection = json.loads(report_of(first, "rejected", "no_capacity"))
    deliver(json.dumps(rejection), REPORT, referral_deps.uow)
    successor = by_partner(referral_deps)["welfare"]  # the next rule: MBE
    assert (successor.status, successor.reason) == ("on-hold", "consent_missing")
    assert requested_partners(referral_deps) == ["course_provider"]


def test_a_prerequisite_met_after_the_withdrawal_does_not_let_the_referral_leave(
        referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)
    jobcenter_consent = consent("jobcenter")
    deliver(consent_event("consent.given", jobcenter_consent["consent_id"], "jobcenter"),
            CONSENTS, referral_deps.uow)  # it now waits for the registration only
    with referral_deps.uow() as uow:  # withdrawn, but that event is still on its way here
        repository.record_consent_withdrawal(uow.session, jobcenter_consent["consent_id"],
                                             PERSON, "jobcenter", datetime.now(timezone.utc))
        uow.session.commit()
    registration = by_partner(referral_deps)["registration"]
    deliver(new_envelope("partner_case.opened", 1, "partner_adapter", "c", {
        "case_id": str(uuid.uuid4()), "referral_id": str(registration.id),
        "partner": "registration", "partner_case_ref": "BD-1",
        "opened_at": "2026-11-21T10:00:00+00:00", "appointment": None}).to_json(),
        OPENED, referral_deps.uow)
    jobcenter = by_partner(referral_deps)["jobcenter"]
    assert (jobcenter.status, jobcenter.reason) == ("on-hold", "consent_missing")
    assert jobcenter.consent_id is None
    assert requested_partners(referral_deps) == ["registration"]


def report_of(referral, status: str, reason: str) -> str:
    data = {"case_id": str(uuid.uuid4()), "referral_id": str(referral.id),
            "partner": referral.partner, "partner_case_ref": "CP-1", "status": status,
            "reason": reason, "reported_at": "2026-11-21T10:00:00+00:00", "outcome": None}
    return new_envelope("partner_case.status_reported", 1, "partner_adapter", "c",
                        data).to_json()


def facts_added(intake_id: str, **facts) -> str:
    data = {"intake_id": intake_id, "person_id": PERSON, "first_issue_date": None,
            "arrival_date": None, "residence_purpose": None,
            "recorded_at": "2026-11-21T10:00:00+00:00", "recorded_by": "staff", **facts}
    return new_envelope("intake.facts_added", 1, "intake", f"intake/{intake_id}",
                        data).to_json()


def test_facts_added_before_the_intake_is_routed_wait_for_it(referral_deps):
    """intake.facts_added and intake.recorded travel on different queues: facts for an
    intake with no referrals yet are retried, not dropped."""
    facts = next(s for s in SUBSCRIPTIONS if s.name == "route_with_added_facts")
    result = deliver(facts_added(str(uuid.uuid4()), first_issue_date="2022-03-20"), facts,
                     referral_deps.uow)
    assert result.verdict is Verdict.RETRY


def test_facts_added_route_the_referral_held_for_them_and_are_kept(referral_deps):
    facts = next(s for s in SUBSCRIPTIONS if s.name == "route_with_added_facts")
    body = json.loads(intake_v2([{"consent_id": str(uuid.uuid4()), "partner": None,
                                  "method": "signed_form", "language": "uk",
                                  "purpose": "referral", "information_version": None}],
                                needs=("living_costs",)))
    body["data"]["residence"]["first_issue_date"] = None
    assert deliver(json.dumps(body), OPEN, referral_deps.uow).verdict is Verdict.ACK
    [held] = by_partner(referral_deps).values()
    assert (held.status, held.reason) == ("on-hold", "fact_missing")
    intake_id = body["data"]["intake_id"]
    assert deliver(facts_added(intake_id, arrival_date="2022-03-10"), facts,
                   referral_deps.uow).verdict is Verdict.ACK
    [still] = by_partner(referral_deps).values()  # another fact: still waiting for it
    assert (still.status, still.reason, still.share["arrival_date"]) == (
        "on-hold", "fact_missing", "2022-03-10")
    assert deliver(facts_added(intake_id, first_issue_date="2022-03-20"), facts,
                   referral_deps.uow).verdict is Verdict.ACK
    routed = by_partner(referral_deps)["jobcenter"]
    assert (routed.status, routed.service, routed.share["first_issue_date"]) == (
        "requested", "sgb2", "2022-03-20")
    assert routed.ack_due_at is not None  # its deadlines run from now
    assert "jobcenter" in requested_partners(referral_deps)
