"""The referral service lets a referral leave only with a consent or a legal basis."""
from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from services.referral import repository, tables
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver
from shared.events.envelope import new_envelope

OPEN, _, _, CONSENTS, *_ = SUBSCRIPTIONS
PERSON = str(uuid.uuid4())


def intake_v2(consents: list[dict]) -> str:
    intake_id = str(uuid.uuid4())
    data = {
        "intake_id": intake_id, "person_id": PERSON, "reference": "LT-2026-ABCDEF",
        "recorded_at": "2026-11-21T09:00:00+00:00", "recorded_by": "staff",
        "site": "infopoint", "channel": "in_person",
        "person": {"given_name": "Olena", "family_name": "Kovalenko",
                   "birth_date": "1987-03-14", "nationality": "UA", "nationalities": ["UA"],
                   "languages": ["uk"], "preferred_language": "uk", "interpreter": "none",
                   "household": [{"relation": "child", "birth_date": "2021-06-01"}]},
        "residence": {"status": "TEMP_PROTECTION_24", "legal_basis": None,
                      "document_type": None, "valid_until": None,
                      "first_issue_date": "2022-04-01"},
        "arrival_date": None,
        "needs": [{"code": c, "urgency": "normal"} for c in
                  ("address_registration", "living_costs", "orientation_counselling")],
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
