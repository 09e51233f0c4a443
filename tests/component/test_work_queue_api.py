"""The staff work queue and staff actions on referrals, over HTTP (SQLite, no broker)."""
from __future__ import annotations

import pytest

from services.referral import repository
from services.referral.app import create_app
from services.referral.consumers import SUBSCRIPTIONS
from shared.auth import Principal, issue_token
from shared.bus.delivery import deliver
from tests.component.test_partner_reports import CONSENT, report, welfare
from tests.component.test_referral_consents import intake_v2

OPEN, _, REPORT, _, *_ = SUBSCRIPTIONS


@pytest.fixture
def client(settings, referral_deps):
    app = create_app(settings.for_service("referral"), referral_deps)
    return app.test_client()


@pytest.fixture
def staff(settings):
    return {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                     Principal("sam", "staff"))}


def queue(client, staff, **query):
    r = client.get("/api/v1/work-queue", headers=staff, query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def test_the_queue_shows_what_waits_and_staff_re_assign_it(client, staff, referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)  # no consent: two referrals wait
    items = queue(client, staff)
    assert sorted(i["partner"] for i in items) == ["jobcenter", "welfare"]
    assert {i["attention"] for i in items} == {"on_hold:consent_missing"}
    assert queue(client, staff, partner="welfare")[0]["partner"] == "welfare"
    waiting = queue(client, staff, partner="welfare")[0]
    refused = client.post(f"/api/v1/referrals/{waiting['id']}/reassign", headers=staff,
                          json={"partner": "welfare", "service": "mbe_diakonie"})
    assert refused.status_code == 422  # no consent for welfare
    assert "partner" in refused.get_json()["errors"]["json"]


def test_a_rejected_need_with_no_partner_left_is_re_assigned_by_hand(client, staff,
                                                                      referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    deliver(report(welfare(referral_deps), "rejected", "no_capacity"), REPORT,
            referral_deps.uow)
    deliver(report(welfare(referral_deps, "mbe_diakonie"), "rejected", "no_capacity"), REPORT,
            referral_deps.uow)
    [item] = queue(client, staff, kind="rejected")
    r = client.post(f"/api/v1/referrals/{item['id']}/reassign", headers=staff,
                    json={"partner": "welfare", "service": "jmd", "note": "young at heart"})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["status"] == "requested" and r.get_json()["service"] == "jmd"
    assert queue(client, staff) == []


def test_staff_cancel_with_a_coded_reason(client, staff, referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    target = welfare(referral_deps)
    bad = client.post(f"/api/v1/referrals/{target.id}/cancel", headers=staff,
                      json={"reason": "bored"})
    assert bad.status_code == 422 and "reason" in bad.get_json()["errors"]["json"]
    r = client.post(f"/api/v1/referrals/{target.id}/cancel", headers=staff,
                    json={"reason": "person_withdrew", "note": "moved to Bochum"})
    assert r.status_code == 200
    assert (r.get_json()["status"], r.get_json()["reason"]) == ("cancelled", "person_withdrew")
    again = client.post(f"/api/v1/referrals/{target.id}/cancel", headers=staff,
                        json={"reason": "person_withdrew"})
    assert again.status_code == 422


def test_a_need_already_taken_over_cannot_be_re_assigned_again(client, staff, referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    first = welfare(referral_deps)
    deliver(report(first, "rejected", "no_capacity"), REPORT, referral_deps.uow)
    r = client.post(f"/api/v1/referrals/{first.id}/reassign", headers=staff,
                    json={"partner": "welfare", "service": "jmd"})
    assert r.status_code == 422 and "referral" in r.get_json()["errors"]["json"]


def test_staff_refer_a_need_by_hand_with_the_consent_check(client, staff, referral_deps):
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    intake_id = str(welfare(referral_deps).intake_id)
    r = client.post("/api/v1/referrals", headers=staff, json={
        "intake_id": intake_id, "need": "housing", "partner": "wohnungsamt", "service": "wbs",
        "note": "shelter closes in May"})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert (body["status"], body["partner"], body["need"]) == ("requested", "wohnungsamt",
                                                               "housing")
    assert "by hand by sam" in body["routing_reason"]
    unknown = client.post("/api/v1/referrals", headers=staff, json={
        "intake_id": intake_id, "need": "housing", "partner": "police", "service": "x_y"})
    assert unknown.status_code == 422 and "partner" in unknown.get_json()["errors"]["json"]
    not_offered = client.post("/api/v1/referrals", headers=staff, json={
        "intake_id": intake_id, "need": "housing", "partner": "wohnungsamt", "service": "sgb2"})
    assert not_offered.status_code == 422, not_offered.get_json()
    assert "service" in not_offered.get_json()["errors"]["json"]


def test_without_consent_a_manual_referral_is_refused(client, staff, referral_deps):
    deliver(intake_v2([]), OPEN, referral_deps.uow)
    with referral_deps.session_factory() as s:
        intake_id = str(repository.find(s)[0].intake_id)
    r = client.post("/api/v1/referrals", headers=staff, json={
        "intake_id": intake_id, "need": "housing", "partner": "wohnungsamt", "service": "wbs"})
    assert r.status_code == 422 and "consent" in r.get_json()["message"]


def test_staff_refer_by_hand_from_the_referral_page(settings, referral_deps, staff):
    app = create_app(settings.for_service("referral"), referral_deps)
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    deliver(intake_v2(CONSENT), OPEN, referral_deps.uow)
    ref = welfare(referral_deps)
    page = client.get(f"/referrals/{ref.id}", headers=staff)
    assert page.status_code == 200 and b"referral_ui" not in page.data
    r = client.post("/referrals/manual", headers=staff, data={
        "intake_id": str(ref.intake_id), "need": "housing", "target": "wohnungsamt/wbs"})
    assert r.status_code == 302 and "/referrals/" in r.headers["Location"]
    with referral_deps.session_factory() as s:
        assert any(x.partner == "wohnungsamt" for x in repository.find(s))


def test_staff_refer_by_hand_to_what_the_directory_offers_even_without_a_rule(
        client, staff, settings, referral_deps):
    admin = {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                      Principal("ada", "admin"))}
    assert client.delete("/api/v1/routing-rules/child-benefit", headers=admin).status_code == 204
    deliver(intake_v2([]), OPEN, referral_deps.uow)
    page = client.get("/work-queue", headers=staff).get_data(as_text=True)
    assert 'value="familienkasse/kindergeld"' in page  # offered, though no rule names it
    assert 'value="welfare/sgb2"' not in page
