"""Admins edit the routing table (validated, versioned); everyone may preview routes."""
from __future__ import annotations

import pytest

from services.referral.app import create_app
from shared.auth import Principal, issue_token

NEW = {"id": "kita-test", "need": "kita_place", "partner": "jugendamt", "service": "kita_portal",
       "priority": 10, "min_age": 0, "max_age": 7, "citation": "§ 24 SGB VIII",
       "note": "pilot with the youth office"}


@pytest.fixture
def client(settings, referral_deps):
    return create_app(settings.for_service("referral"), referral_deps).test_client()


def auth(settings, role: str) -> dict:
    return {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                     Principal(role, role))}


def test_an_admin_adds_changes_and_removes_a_rule_and_each_change_is_a_version(
        client, settings):
    admin = auth(settings, "admin")
    assert client.post("/api/v1/routing-rules", json=NEW, headers=admin).status_code == 201
    changed = {**NEW, "priority": 5}
    changed.pop("id")
    r = client.put("/api/v1/routing-rules/kita-test", json=changed, headers=admin)
    assert r.status_code == 200 and r.get_json()["priority"] == 5
    assert client.delete("/api/v1/routing-rules/kita-test?note=pilot over",
                         headers=admin).status_code == 204
    versions = client.get("/api/v1/routing-rules/versions", headers=admin).get_json()["items"]
    assert [v["version"] for v in versions] == [9, 8, 7, 6, 5, 4, 3, 2, 1]  # 1-6: seed migrations
    assert versions[0]["note"] == "pilot over" and versions[-1]["changed_by"] == "seed"


@pytest.mark.parametrize("change, field", [
    ({"partner": "police"}, "partner"),
    ({"min_age": 7, "max_age": 3}, "max_age"),
    ({"valid_from": "2026-05-01", "valid_to": "2026-01-01"}, "valid_to"),
    ({"need": "money"}, "need"),
    ({"service": "Kita Help"}, "service"),
    ({"citation": ""}, "citation"),
    ({"residence_statuses": ["REFUGEE"]}, "residence_statuses"),
    ({"requires_need": "kita_place"}, "requires_need"),
    ({"districts": ["kreuzviertel"]}, "districts"),
    ({"pension_age": "67"}, "pension_age"),
    ({"service": "no_such_service"}, "service"),  # not in the partner directory
    ({"partner": "welfare"}, "service"),  # welfare offers no kita_portal
    ({"citation": "Kita help"}, "citation"),  # no paragraph
    ({"citation": "§ 24 SGB VIII (planned from 2027)"}, "citation"),  # its dates say that
])
def test_a_bad_rule_is_refused_naming_the_field(client, settings, change, field):
    r = client.post("/api/v1/routing-rules", json={**NEW, **change},
                    headers=auth(settings, "admin"))
    assert r.status_code == 422 and field in r.get_json()["errors"]["json"], r.get_json()


def test_a_rule_can_ask_for_the_statutory_pension_age(client, settings):
    admin = auth(settings, "admin")
    rule = {**NEW, "id": "old-age-test", "need": "living_costs", "partner": "sozialamt",
            "service": "sgb12", "min_age": None,
            "max_age": None, "pension_age": "reached", "citation": "§ 41 Abs. 2 SGB XII"}
    r = client.post("/api/v1/routing-rules", json=rule, headers=admin)
    assert r.status_code == 201 and r.get_json()["pension_age"] == "reached"
    listed = client.get("/api/v1/routing-rules", headers=admin).get_json()["items"]
    assert {x["id"]: x["pension_age"] for x in listed}["old-age-test"] == "reached"


def test_each_rule_shows_whether_it_is_in_force_today_from_its_dates(client, settings):
    listed = client.get("/api/v1/routing-rules", headers=auth(settings, "staff")).get_json()
    standing = {r["id"]: r["standing"] for r in listed["items"]}
    assert set(standing.values()) <= {"in_force", "not_yet", "ended"}
    assert standing["language-course-admission"] == "ended"  # valid until 8 February 2026
    assert standing["living-costs-asylblg-temp-protection-2025"] == "in_force"  # 1 July 2026


def test_only_admins_edit_rules(client, settings):
    r = client.post("/api/v1/routing-rules", json=NEW, headers=auth(settings, "staff"))
    assert r.status_code == 403


def test_the_preview_says_where_an_intake_would_go_and_why(client, settings):
    r = client.post("/api/v1/routing-rules/preview", headers=auth(settings, "staff"), json={
        "birth_date": "2007-05-01", "residence_status": "TEMP_PROTECTION_24",
        "needs": ["orientation_counselling", "living_costs", "kita_place"],
        "on_date": "2026-11-21"})
    assert r.status_code == 200, r.get_json()
    items = {i["need"]: i for i in r.get_json()["items"]}
    assert items["orientation_counselling"]["service"] == "jmd"
    assert "age 19 within 12–26" in items["orientation_counselling"]["reason"]
    # since 1 July 2026 the § 24 permit's first-issue date decides SGB II or AsylbLG
    assert items["living_costs"]["partner"] is None
    assert items["living_costs"]["facts_missing"] == ["first_issue_date"]
    assert items["living_costs"]["reason"].startswith("fact missing: first_issue_date")
    assert items["kita_place"]["partner"] is None  # no child in the household
    r = client.post("/api/v1/routing-rules/preview", headers=auth(settings, "staff"), json={
        "birth_date": "2007-05-01", "residence_status": "TEMP_PROTECTION_24",
        "first_issue_date": "2022-04-01", "needs": ["living_costs"], "on_date": "2026-11-21"})
    (living,) = r.get_json()["items"]
    assert (living["partner"], living["requires_need"]) == ("jobcenter", "address_registration")


def test_the_intake_form_learns_which_facts_the_rules_read(client, settings):
    """What the form asks for, by need and status: a § 24 holder's living costs depend on the
    permit's first-issue date; an EU citizen's on the purpose and the arrival (§ 7 Abs. 1
    Satz 2 SGB II); a German's on none of them."""
    def read(status, *needs):
        r = client.get("/api/v1/routing-rules/facts-read", headers=auth(settings, "staff"),
                       query_string=[("residence_status", status)] + [("need", n) for n in needs])
        assert r.status_code == 200, r.get_json()
        return {i["fact"]: i["needs"] for i in r.get_json()["items"]}
    assert read("TEMP_PROTECTION_24", "living_costs", "orientation_counselling") == {
        "first_issue_date": ["living_costs"]}
    assert read("EU_FREE_MOVEMENT", "living_costs") == {
        "residence_purpose": ["living_costs"], "arrival_date": ["living_costs"]}
    assert read("DE_CITIZEN", "living_costs", "address_registration") == {}
    r = client.get("/api/v1/routing-rules/facts-read?residence_status=MARS&need=living_costs",
                   headers=auth(settings, "staff"))
    assert r.status_code == 422 and "residence_status" in str(r.get_json())


def test_the_preview_weighs_household_and_district(client, settings):
    r = client.post("/api/v1/routing-rules/preview", headers=auth(settings, "staff"), json={
        "birth_date": "1990-05-01", "residence_status": "SUBSIDIARY_PROTECTION",
        "needs": ["kita_place", "local_integration"], "children_born": ["2023-02-01"],
        "district": "eving", "on_date": "2026-11-21"})
    assert r.status_code == 200, r.get_json()
    items = {i["need"]: i for i in r.get_json()["items"]}
    assert items["kita_place"]["partner"] == "jugendamt"
    assert "lives in eving" in items["local_integration"]["reason"]


def test_a_rule_for_some_districts_is_saved_and_shown(client, settings):
    admin = auth(settings, "admin")
    rule = {**NEW, "id": "welcome-eving", "need": "local_integration", "min_age": None,
            "max_age": None, "districts": ["eving", "scharnhorst"], "priority": 5}
    r = client.post("/api/v1/routing-rules", json=rule, headers=admin)
    assert r.status_code == 201 and r.get_json()["districts"] == ["eving", "scharnhorst"]
    page = client.get("/routing-rules", headers=admin)
    assert "Eving, Scharnhorst" in page.get_data(as_text=True)
    edit = client.get("/routing-rules/welcome-eving/edit", headers=admin)
    assert b'value="eving" checked' in edit.data


def test_the_rule_pages_render(client, settings):
    admin = auth(settings, "admin")
    page = client.get("/routing-rules", headers=admin)
    assert page.status_code == 200 and b"orientation-mbe" in page.data
    edit = client.get("/routing-rules/orientation-mbe/edit", headers=admin)
    assert edit.status_code == 200
    # the service is picked from what the partner directory says each partner offers
    assert '<option value="mbe" selected>' in edit.get_data(as_text=True)
    assert '<option value="kita_portal"' in edit.get_data(as_text=True)
    assert client.get("/routing-rules/new", headers=admin).status_code == 200


@pytest.fixture
def form_client(settings, referral_deps):
    """The referral UI without CSRF tokens (tested elsewhere), and an admin's headers."""
    app = create_app(settings.for_service("referral"), referral_deps)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client(), auth(settings, "admin")


MBE_FORM = {"need": "orientation_counselling", "partner": "welfare", "service": "mbe",
            "priority": "15", "min_age": "27", "citation": "§ 45 AufenthG", "note": "test"}


def test_a_service_the_partner_does_not_offer_is_refused_in_the_form(form_client):
    client, admin = form_client
    bad = client.post("/routing-rules/orientation-mbe/edit", headers=admin,
                      data={**MBE_FORM, "service": "sgb2"})
    assert bad.status_code == 422
    assert 'data-field="service"' in bad.get_data(as_text=True)
    listed = client.get("/api/v1/routing-rules", headers=admin).get_json()["items"]
    assert {r["id"]: r["service"] for r in listed}["orientation-mbe"] == "mbe"  # unchanged


def test_a_new_rule_without_an_id_is_refused_in_the_form_not_a_server_error(form_client):
    client, admin = form_client
    r = client.post("/routing-rules/new", headers=admin, data={**MBE_FORM, "action": "save"})
    assert r.status_code == 422 and 'data-field="id"' in r.get_data(as_text=True)


def test_admins_edit_a_rule_through_the_form_and_see_field_errors(form_client):
    client, admin = form_client
    form = MBE_FORM
    bad = client.post("/routing-rules/orientation-mbe/edit", headers=admin,
                      data={**form, "min_age": "30", "max_age": "20"})
    assert bad.status_code == 422 and b'data-field="max_age"' in bad.data
    ok = client.post("/routing-rules/orientation-mbe/edit", headers=admin, data=form)
    assert ok.status_code == 302
    rules = client.get("/api/v1/routing-rules", headers=admin).get_json()["items"]
    assert next(r for r in rules if r["id"] == "orientation-mbe")["priority"] == 15
    preview = client.post("/routing-rules", headers=admin, data={
        "birth_date": "1987-03-14", "residence_status": "TEMP_PROTECTION_24",
        "needs": ["orientation_counselling", "local_integration"], "on_date": "2026-11-21",
        "district": "hoerde", "languages": "uk, ru"})
    assert preview.status_code == 200 and b"preview-result" in preview.data
    assert "wohnt in Hörde" in preview.get_data(as_text=True)


def test_a_referral_records_the_rule_and_table_version_that_routed_it(referral_deps):
    from services.referral import repository
    from services.referral.consumers import SUBSCRIPTIONS
    from shared.bus.delivery import deliver
    from tests.component.test_partner_reports import CONSENT
    from tests.component.test_referral_consents import intake_v2

    deliver(intake_v2(CONSENT), SUBSCRIPTIONS[0], referral_deps.uow)
    with referral_deps.session_factory() as s:
        refs = {r.partner: r for r in repository.find(s)}
    assert refs["welfare"].rule_id == "orientation-mbe"
    assert refs["welfare"].rules_version == 6  # the seed table after migration 0021


@pytest.fixture
def recorded_intakes(referral_deps):
    """Two intakes routed by today's table (an adult: orientation counselling at the MBE)."""
    from services.referral.consumers import SUBSCRIPTIONS
    from shared.bus.delivery import deliver
    from tests.component.test_partner_reports import CONSENT
    from tests.component.test_referral_consents import intake_v2

    for _ in range(2):
        deliver(intake_v2(CONSENT), SUBSCRIPTIONS[0], referral_deps.uow)


MBE_RULE = {"need": "orientation_counselling", "partner": "welfare", "service": "mbe",
            "priority": 10, "min_age": 27, "citation": "§ 45 Satz 1 AufenthG"}


def test_replaying_a_changed_rule_shows_the_routes_it_would_change_and_saves_nothing(
        client, settings, recorded_intakes):
    admin = auth(settings, "admin")
    versions = client.get("/api/v1/routing-rules/versions", headers=admin).get_json()["items"]
    changed = {**MBE_RULE, "id": "orientation-mbe", "service": "mbe_diakonie"}
    r = client.post("/api/v1/routing-rules/replay?intakes=50", json=changed, headers=admin)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["replayed_intakes"], body["replayed_needs"]) == (2, 6)
    assert [(c["need"], c["before"]["service"], c["after"]["service"])
            for c in body["changes"]] == [("orientation_counselling", "mbe", "mbe_diakonie")] * 2
    # a rule for people from 40 leaves a 39-year-old to the next rule, the second association
    older = client.post("/api/v1/routing-rules/replay", headers=admin,
                        json={**MBE_RULE, "id": "orientation-mbe", "min_age": 40}).get_json()
    assert {c["after"]["rule_id"] for c in older["changes"]} == {"orientation-mbe-2"}
    unchanged = client.post("/api/v1/routing-rules/replay", headers=admin,
                            json={**MBE_RULE, "id": "orientation-mbe"}).get_json()
    assert unchanged["changes"] == []
    listed = client.get("/api/v1/routing-rules", headers=admin).get_json()["items"]
    assert {r["id"]: r["service"] for r in listed}["orientation-mbe"] == "mbe"
    assert client.get("/api/v1/routing-rules/versions",
                      headers=admin).get_json()["items"] == versions


def test_a_replayed_rule_is_checked_like_a_saved_one(client, settings):
    r = client.post("/api/v1/routing-rules/replay", headers=auth(settings, "admin"),
                    json={**MBE_RULE, "service": "sgb2"})
    assert r.status_code == 422 and "service" in r.get_json()["errors"]["json"]
    staff = client.post("/api/v1/routing-rules/replay", headers=auth(settings, "staff"),
                        json=MBE_RULE)
    assert staff.status_code == 403


def test_the_editor_previews_what_a_change_would_do_before_saving(form_client,
                                                                    recorded_intakes):
    client, admin = form_client
    page = client.post("/routing-rules/orientation-mbe/edit", headers=admin,
                       data={**MBE_FORM, "priority": "10", "service": "mbe_diakonie",
                             "action": "replay"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="replay"' in text
    welfare = "Wohlfahrtsverbände (MBE/JMD)"
    assert f"{welfare} / MBE der Diakonie" in text
    assert f"{welfare} / Migrationsberatung für erwachsene Zugewanderte (MBE)" in text
    listed = client.get("/api/v1/routing-rules", headers=admin).get_json()["items"]
    assert {r["id"]: r["service"] for r in listed}["orientation-mbe"] == "mbe"  # not saved
