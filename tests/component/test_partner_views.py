"""Every partner-facing response is built from the partner's allow-list (issue 16, finding 5).

For each partner in the directory, its user reads its referral and its case through every
partner-facing route (referral API list and detail, partner-case API, portal page). What may
be in the answer: the allow-listed fields, under their names in that response, and the case's
workflow (statuses, dates, references the partner itself gave); never the routing reason,
which names the person's age, residence status or nationality, nor staff notes or names.
"""
from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from services.partner_adapter import handlers as adapter_handlers
from services.partner_adapter.app import create_app as adapter_app
from services.partner_adapter.consumers import SUBSCRIPTIONS as ADAPTER_SUBS
from services.referral import repository
from services.referral.app import create_app as referral_app
from services.referral.domain import Referral, Route, SharingBasis
from shared import words
from shared.auth import Principal, issue_token
from shared.bus.delivery import Verdict, deliver
from shared.events.envelope import new_envelope
from shared.partners import DIRECTORY
from tests.conftest import SMOKE_INTAKE
from tests.fakes import FakePartnerGateway

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
# A routing reason as the rules write it: the person's facts in words
REASON = "SGB II: age 39 in 15..67, residence TEMP_PROTECTION_24, nationality group UA"
HOUSEHOLD = [{"relation": "spouse", "birth_date": "1985-01-02", "given_name": "Andrii",
              "family_name": "Kovalenko"},
             {"relation": "child", "birth_date": "2019-02-03", "given_name": "Taras",
              "family_name": "Kovalenko"}]
SHARE = {"person": copy.deepcopy(SMOKE_INTAKE["person"]), "household": HOUSEHOLD,
         "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form"}
# referral API: allow-list entry -> its name in the answer; the rest is workflow
REFERRAL_NAMES = {"referral_id": "id", "intake_reference": "intake_reference",
                  "need": "need", "service": "service"}
REFERRAL_WORKFLOW = {"partner", "status", "reason", "outcome", "partner_case_ref",
                     "appointment", "created_at", "updated_at", "ack_due_at",
                     "complete_due_at", "overdue_since", "history",
                     "course_id"}  # a place request's course (the directory: no personal data)
HISTORY_WORKFLOW = {"status", "previous_status", "changed_at"}
CASE_NAMES = {"referral_id": "referral_id", "service": "service"}
CASE_WORKFLOW = {"id", "partner", "status", "partner_case_ref", "partner_status", "attempts",
                 "last_error", "created_at", "updated_at"}
# shareable fields whose values are distinctive enough to look for in a page
DISTINCT = {"residence_status": "TEMP_PROTECTION_24", "household": "1985-01-02",
            "person.birth_date": SMOKE_INTAKE["person"]["birth_date"], "for_person": "Taras"}


def as_partner(app, partner: str):
    token = issue_token(app.secret_key, Principal(f"{partner}-user", "partner", partner))
    client = app.test_client()
    client.environ_base.update(HTTP_AUTHORIZATION=f"Bearer {token}",
                               HTTP_ACCEPT_LANGUAGE="en")
    return client


def allowed(partner: str, names: dict[str, str], workflow: set[str]) -> set[str]:
    return {names[f] for f in DIRECTORY[partner].allow_list if f in names} | workflow


def a_referral_for(referral_deps, partner: str) -> Referral:
    referral = Referral.open(
        intake_id=uuid.uuid4(), intake_reference="LT-2026-VIEWS", need="living_costs",
        route=Route(partner, "some_service", "rule-1", REASON), by="stefan.staff", now=NOW,
        basis=SharingBasis(consent_id=str(uuid.uuid4())), person_id=str(uuid.uuid4()),
        share={**SHARE, "consents": []}, for_member=1)  # the child's need
    with referral_deps.session_factory() as s:
        repository.add(s, referral)
        s.commit()
    return referral


def a_delivered_case_for(adapter_deps, referral: Referral) -> None:
    [requested] = referral.events  # referral.requested, as the referral service sends it
    data = requested.data()
    request = next(s for s in ADAPTER_SUBS if s.name == "request_partner_case")
    body = new_envelope("referral.requested", 1, "referral", "r", data).to_json()
    assert deliver(body, request, adapter_deps.uow).verdict is Verdict.ACK
    with adapter_deps.session_factory() as s:
        from services.partner_adapter import repository as cases
        case = cases.for_referral(s, referral.partner, str(referral.id))
    gateways = {referral.partner: FakePartnerGateway()} if DIRECTORY[
        referral.partner].has_system else {}
    assert adapter_handlers.open_partner_case(str(case.id), adapter_deps.uow,
                                              gateways) == "opened"


@pytest.mark.parametrize("partner", sorted(DIRECTORY))
def test_every_partner_facing_answer_holds_only_allow_listed_fields_and_the_workflow(
        settings, referral_deps, adapter_deps, partner):
    referral = a_referral_for(referral_deps, partner)
    a_delivered_case_for(adapter_deps, referral)
    referrals = as_partner(referral_app(settings.for_service("referral"), referral_deps),
                           partner)
    adapter = as_partner(adapter_app(settings.for_service("partner_adapter"), adapter_deps),
                         partner)

    listed = referrals.get("/api/v1/referrals")
    one = referrals.get(f"/api/v1/referrals/{referral.id}")
    assert listed.status_code == one.status_code == 200
    for answer in (*listed.get_json()["items"], one.get_json()):
        assert set(answer) <= allowed(partner, REFERRAL_NAMES, REFERRAL_WORKFLOW), partner
        assert all(set(h) <= HISTORY_WORKFLOW for h in answer["history"])
    assert REASON not in listed.get_data(as_text=True) + one.get_data(as_text=True)
    assert "stefan.staff" not in one.get_data(as_text=True)

    cases = adapter.get("/api/v1/partner-cases")
    assert cases.status_code == 200
    for answer in cases.get_json()["items"]:
        assert set(answer) <= allowed(partner, CASE_NAMES, CASE_WORKFLOW), partner

    page = adapter.get("/partner/cases")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and REASON not in html
    assert SMOKE_INTAKE["person"]["family_name"] in html  # delivered: the case shows them
    for field, value in DISTINCT.items():
        if field not in DIRECTORY[partner].allow_list:  # nor as the page writes a date
            shown = words.city_date(value, "en") if value[:4].isdigit() else value
            assert value not in html and shown not in html, (partner, field)
    if "for_person" in DIRECTORY[partner].allow_list:  # whom the case is for
        assert "Taras" in html, partner
    assert "Andrii" not in html  # a member no referral is for is never named


def test_a_referral_held_for_a_consent_is_not_shown_to_its_partner(settings, referral_deps):
    """Held (no consent yet, or waiting for a prerequisite), nothing of it has left: its
    partner does not see that it exists, not even the intake reference and the need."""
    held = Referral.open(
        intake_id=uuid.uuid4(), intake_reference="LT-2026-HELD01", need="living_costs",
        route=Route("welfare", "mbe", "rule-1", REASON), by="routing", now=NOW, basis=None,
        person_id=str(uuid.uuid4()), share={**SHARE, "consents": []})
    assert held.status == "on-hold"
    with referral_deps.session_factory() as s:
        repository.add(s, held)
        s.commit()
    welfare = as_partner(referral_app(settings.for_service("referral"), referral_deps),
                         "welfare")
    listed = welfare.get("/api/v1/referrals")
    assert listed.status_code == 200 and listed.get_json()["items"] == []
    assert welfare.get(f"/api/v1/referrals/{held.id}").status_code == 404
    with referral_deps.uow() as uow:  # the consent arrives: now it left, and is shown
        from services.referral import handlers
        handlers.follow_consents(new_envelope("consent.given", 1, "intake", "p", {
            "consent_id": str(uuid.uuid4()), "person_id": held.person_id, "partner": None,
            "method": "digital", "language": "uk", "purpose": "referral",
            "given_at": NOW.isoformat()}), uow)
        uow.commit()
    [shown] = welfare.get("/api/v1/referrals").get_json()["items"]
    assert shown["intake_reference"] == "LT-2026-HELD01" and shown["status"] == "requested"


# --- one truth: every portal answer is taken by both sides or refused to the partner --------
def _relay(adapter_deps, referral_deps, sent: set) -> None:
    """Deliver the partner adapter's new events to the referral service, as the bus would."""
    from services.partner_adapter import tables as adapter_tables
    from services.referral.consumers import SUBSCRIPTIONS as REFERRAL_SUBS

    by_type = {t: s for s in REFERRAL_SUBS for t in s.event_types}
    with adapter_deps.session_factory() as s:
        rows = s.execute(sa.select(adapter_tables.outbox.c.id, adapter_tables.outbox.c.body)
                         .order_by(adapter_tables.outbox.c.id)).all()
    for row_id, body in rows:
        event_type = json.loads(body)["type"]
        if row_id not in sent and event_type in by_type:
            assert deliver(body, by_type[event_type], referral_deps.uow).verdict is Verdict.ACK
        sent.add(row_id)


ANSWERED_BEFORE = (None, "accepted", "in-progress", "on-hold", "rejected", "completed")
ANSWERS = ["accepted", "rejected", "in-progress", "on-hold", "completed", "cancelled"]


class _Answering:
    """A referral delivered to `partner` as a case, and what staff and the partner see of it
    after each answer (the bus between the two services played by _relay)."""

    def __init__(self, referral_deps, adapter_deps, partner: str):
        from services.partner_adapter import repository as cases

        self.referral_deps, self.adapter_deps, self.cases = referral_deps, adapter_deps, cases
        self.referral = a_referral_for(referral_deps, partner)
        a_delivered_case_for(adapter_deps, self.referral)
        self.sent: set = set()
        self.relay()
        with adapter_deps.session_factory() as s:
            case = cases.for_referral(s, partner, str(self.referral.id))
        self.case_id, self.reference = str(case.id), case.partner_case_ref

    def relay(self) -> None:
        _relay(self.adapter_deps, self.referral_deps, self.sent)

    def views(self) -> tuple[str, str]:
        with self.referral_deps.session_factory() as s:
            staff = repository.get(s, str(self.referral.id)).status
        with self.adapter_deps.session_factory() as s:
            partner = self.cases.get(s, self.case_id).partner_status
        return staff, partner or "received"


@pytest.mark.parametrize("before", ANSWERED_BEFORE)
@pytest.mark.parametrize("answer", ANSWERS)
def test_a_portal_answer_is_taken_by_both_or_refused_to_the_partner(
        referral_deps, adapter_deps, before, answer):
    """Staff (the referral) and the partner (its case) see the same status after every
    answer the portal takes; an answer the lifecycle refuses is refused to the partner and
    changes neither (issue 20, one truth)."""
    from services.partner_adapter.domain import answer_refused

    case = _Answering(referral_deps, adapter_deps, "jugendamt")

    def answered(status: str) -> str:
        outcome = "place_offered" if status == "completed" else None
        reason = "no_capacity" if status == "rejected" else None
        result = adapter_handlers.record_portal_report("jugendamt", case.case_id, status,
                                                       reason, outcome, adapter_deps.uow())
        case.relay()
        return result

    views = case.views
    if before:
        assert answered(before) == "recorded"
    assert views()[0] == views()[1]
    seen = views()
    refused = answer_refused(before, answer, "place_offered" if answer == "completed" else None)
    if before in ("rejected", "completed"):
        assert answered(answer) == "closed"  # its last word: the portal offers nothing more
    elif refused:
        with pytest.raises(adapter_handlers.AnswerRefused):
            answered(answer)
        assert views() == seen
    else:
        assert answered(answer) == "recorded"
        assert views() == (answer, answer) or (answer == before and views() == seen)


@pytest.mark.parametrize("before", ANSWERED_BEFORE)
@pytest.mark.parametrize("answer", ANSWERS)
def test_a_system_partners_answer_is_taken_by_both_or_refused_to_its_callback(
        referral_deps, adapter_deps, before, answer):
    """The same agreement for a partner answering from its own system (the sandbox's signed
    callback, as the welfare association's case API sends it): staff and the partner's case
    see the same status, a refused answer changes neither and is refused to the caller."""
    from services.partner_adapter.domain import answer_refused

    case = _Answering(referral_deps, adapter_deps, "welfare")

    def answered(status: str) -> str:
        report = {"event_id": str(uuid.uuid4()), "case_reference": case.reference,
                  "client_reference": str(case.referral.id), "status": status,
                  "reason": "no_capacity" if status == "rejected" else None,
                  "outcome": "counselling_started" if status == "completed" else None}
        result = adapter_handlers.record_partner_report("welfare", report, adapter_deps.uow())
        case.relay()
        return result

    views = case.views
    if before:
        assert answered(before) == "recorded"
    assert views()[0] == views()[1]
    seen = views()
    # after its last word (rejected, completed) a partner's system may only say it again
    if answer_refused(before, answer, "counselling_started" if answer == "completed" else None):
        with pytest.raises(adapter_handlers.AnswerRefused):
            answered(answer)
        assert views() == seen
    else:
        assert answered(answer) == "recorded"
        assert views() == (answer, answer) or (answer == before and views() == seen)
