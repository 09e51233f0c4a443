"""Partner answers reach the referral with coded reasons and outcomes."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from services.referral import repository
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import deliver
from shared.events.envelope import new_envelope
from tests.component.test_referral_consents import intake_v2

OPEN, OPENED, REPORT, _, *_ = SUBSCRIPTIONS
CONSENT = [{"consent_id": str(uuid.uuid4()), "partner": None, "method": "signed_form",
            "language": "uk", "purpose": "referral", "information_version": None}]


def welfare(deps, service: str = "mbe"):
    with deps.session_factory() as s:
        return next(r for r in repository.find(s) if r.service == service)


def report(referral, status: str, reason=None, outcome=None) -> str:
    data = {"case_id": str(uuid.uuid4()), "referral_id": str(referral.id), "partner": "welfare",
            "partner_case_ref": "WF-1", "status": status, "reason": reason,
            "reported_at": "2026-11-21T10:00:00+00:00", "outcome": outcome}
    return new_envelope("partner_case.status_reported", 1, "partner_adapter", "c", data).to_json()


def test_a_completion_carries_the_partner_s_outcome(referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    ref = welfare(referral_deps)
    deliver(report(ref, "accepted"), REPORT, referral_deps.uow)
    deliver(report(ref, "completed", outcome="counselling_started"), REPORT, referral_deps.uow)
    done = welfare(referral_deps)
    assert (done.status, done.outcome) == ("completed", "counselling_started")
    assert [h.status for h in done.history] == ["requested", "accepted", "completed"]


def test_a_rejection_in_free_text_is_coded_other_with_the_text_as_note(referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    ref = welfare(referral_deps)
    deliver(report(ref, "rejected", reason="no counsellor for Ukrainian this month"),
            REPORT, referral_deps.uow)
    rejected = welfare(referral_deps)
    assert (rejected.status, rejected.reason) == ("rejected", "other")
    assert rejected.note == "no counsellor for Ukrainian this month"


def test_a_rejection_re_routes_to_the_next_service_and_then_reaches_the_work_queue(
        referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    first = welfare(referral_deps)
    deliver(report(first, "rejected", reason="no_capacity"), REPORT, referral_deps.uow)
    second = welfare(referral_deps, "mbe_diakonie")
    assert second.status == "requested" and second.consent_id == first.consent_id
    assert welfare(referral_deps).superseded_by == str(second.id)
    assert welfare(referral_deps).attention() is None  # its need moved on
    deliver(report(second, "rejected", reason="no_capacity"), REPORT, referral_deps.uow)
    assert welfare(referral_deps, "mbe_diakonie").attention() == "rejected"  # none left
    with referral_deps.session_factory() as s:
        queue = repository.needing_attention(s, datetime.now(timezone.utc))
    assert [r.service for r in queue] == ["mbe_diakonie"]


def opened(referral) -> str:
    data = {"case_id": str(uuid.uuid4()), "referral_id": str(referral.id),
            "partner": referral.partner, "partner_case_ref": "BD-1",
            "opened_at": "2026-11-21T10:00:00+00:00"}
    return new_envelope("partner_case.opened", 1, "partner_adapter", "c", data).to_json()


def test_the_jobcenter_referral_waits_until_the_registration_reached_its_partner(
        referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    with referral_deps.session_factory() as s:
        refs = {r.partner: r for r in repository.find(s)}
    assert (refs["jobcenter"].status, refs["jobcenter"].reason) == ("on-hold",
                                                                    "prerequisite_pending")
    assert refs["jobcenter"].waits_for == "address_registration"
    deliver(opened(refs["registration"]), OPENED, referral_deps.uow)
    with referral_deps.session_factory() as s:
        released = next(r for r in repository.find(s) if r.partner == "jobcenter")
    assert released.status == "requested"
    assert released.history[-1].note == "the address_registration referral reached its partner"
