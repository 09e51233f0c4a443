"""The course directory over HTTP (SQLite, no broker): filters, who keeps which course,
validation, import all-or-nothing, a place request with and without consent, the HSDS 3.0
export against the Open Referral schemas."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012 as _DRAFT
from sqlalchemy import select

from services.referral import courses_store, tables
from services.referral.app import create_app
from services.referral.consumers import SUBSCRIPTIONS
from services.referral.courses_cli import import_file
from shared.auth import Principal, issue_token
from shared.bus.delivery import deliver
from tests.component.test_referral_consents import intake_v2

OPEN, *_ = SUBSCRIPTIONS
HSDS = Path(__file__).parent.parent / "data" / "hsds3"
COURSE = {"kind": "integration", "title": "Integrationskurs A1", "level": "A1",
          "schedule": "Mo–Fr 08:30–11:45", "district": "eving", "childcare": True,
          "funding": "bamf_integration", "starts_on": "2027-01-11", "places": 20,
          "free_places": 5}


@pytest.fixture
def client(settings, referral_deps):
    app = create_app(settings.for_service("referral"), referral_deps)
    return app.test_client()


def headers(settings, username, role, partner=None):
    return {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                     Principal(username, role, partner))}


@pytest.fixture
def staff(settings):
    return headers(settings, "sam", "staff")


@pytest.fixture
def provider(settings):
    return headers(settings, "vhs", "partner", "course_provider")


@pytest.fixture
def admin(settings):
    return headers(settings, "ada", "admin")


@pytest.fixture
def demo(referral_deps):
    # a day inside the BAMF's 2026 admission stop, so the matches do not change with the date
    referral_deps.clock = lambda: datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    courses_store.seed_demo(referral_deps.uow(), referral_deps.clock().date())
    return courses_store.demo_courses(referral_deps.clock().date())


def add(client, who, **changes):
    r = client.post("/api/v1/courses", headers=who, json={**COURSE, **changes})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_demo_directory_answers_a1_courses_and_filters(client, staff, demo):
    r = client.get("/api/v1/courses?level=A1", headers=staff)
    assert r.status_code == 200
    items = r.get_json()["items"]
    assert items and {i["level"] for i in items} == {"A1"}
    assert [i["starts_on"] for i in items] == sorted(i["starts_on"] for i in items)
    literacy = client.get("/api/v1/courses", headers=staff,
                          query_string={"kind": "literacy"}).get_json()["items"]
    assert [c["kind"] for c in literacy] == ["literacy"]
    free = client.get("/api/v1/courses?level=A1&with_free_places=true",
                      headers=staff).get_json()["items"]
    assert all(c["free_places"] > 0 for c in free) and len(free) < len(items)
    care = client.get("/api/v1/courses?childcare=true&district=eving",
                      headers=staff).get_json()["items"]
    assert care and all(c["childcare"] and c["district"] == "eving" for c in care)
    later = client.get("/api/v1/courses?starts_from=2099-01-01", headers=staff)
    assert later.get_json()["items"] == []
    funded = client.get("/api/v1/courses?funding=municipal", headers=staff).get_json()["items"]
    assert {c["funding"] for c in funded} == {"municipal"}


def test_bad_filters_are_refused_naming_the_field(client, staff):
    r = client.get("/api/v1/courses?level=Z9", headers=staff)
    assert r.status_code == 422 and "level" in r.get_json()["errors"]["query"]
    r = client.get("/api/v1/courses?starts_from=soon", headers=staff)
    assert r.status_code == 422 and "starts_from" in r.get_json()["errors"]["query"]


def test_a_provider_keeps_its_own_courses(client, provider, staff):
    course = add(client, provider)
    assert course["provider"] == "course_provider" and course["status"] == "open"
    r = client.patch(f"/api/v1/courses/{course['id']}", headers=provider,
                     json={"free_places": 2})
    assert r.status_code == 200 and r.get_json()["free_places"] == 2
    r = client.post(f"/api/v1/courses/{course['id']}/close", headers=provider)
    assert r.status_code == 200 and r.get_json()["status"] == "closed"
    assert client.get("/api/v1/courses", headers=staff).get_json()["items"] == []
    closed = client.get("/api/v1/courses?include_closed=true", headers=staff)
    assert [c["id"] for c in closed.get_json()["items"]] == [course["id"]]


def test_another_provider_s_course_is_refused_403(client, settings, provider, admin):
    course = add(client, provider)
    other = headers(settings, "ines", "partner", "welfare")
    r = client.patch(f"/api/v1/courses/{course['id']}", headers=other, json={"free_places": 1})
    assert r.status_code == 403
    assert client.post(f"/api/v1/courses/{course['id']}/close", headers=other).status_code \
        == 403
    assert client.post("/api/v1/courses", headers=other, json=COURSE).status_code == 403
    # admins keep any provider's courses, naming the provider
    r = client.post("/api/v1/courses", headers=admin, json=COURSE)
    assert r.status_code == 422 and "provider" in r.get_json()["errors"]["json"]
    assert add(client, admin, provider="course_provider")["provider"] == "course_provider"
    r = client.patch(f"/api/v1/courses/{course['id']}", headers=admin, json={"free_places": 0})
    assert r.status_code == 200


def test_staff_read_but_do_not_keep_courses(client, staff):
    assert client.post("/api/v1/courses", headers=staff, json=COURSE).status_code == 403


@pytest.mark.parametrize("change, field", [
    ({"level": "D1"}, "level"), ({"places": 0}, "places"), ({"district": "paris"}, "district"),
    ({"free_places": 30}, "free_places"), ({"starts_on": "soon"}, "starts_on"),
    ({"kind": "job"}, "funding"), ({"title": ""}, "title"), ({"extra": 1}, "extra"),
    ({"provider": "welfare"}, "provider")])
def test_bad_courses_are_refused_naming_the_field(client, provider, referral_deps, change,
                                                  field):
    r = client.post("/api/v1/courses", headers=provider, json={**COURSE, **change})
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]["json"]
    with referral_deps.session_factory() as s:
        assert s.execute(select(tables.courses)).first() is None


def test_a_change_is_checked_as_a_whole(client, provider):
    course = add(client, provider)
    r = client.patch(f"/api/v1/courses/{course['id']}", headers=provider,
                     json={"free_places": 21})
    assert r.status_code == 422 and "free_places" in r.get_json()["errors"]["json"]
    r = client.patch(f"/api/v1/courses/{course['id']}", headers=provider, json={})
    assert r.status_code == 422
    r = client.patch(f"/api/v1/courses/{uuid.uuid4()}", headers=provider,
                     json={"free_places": 1})
    assert r.status_code == 404


def test_matches_are_ranked_and_say_why(client, staff, demo):
    r = client.get("/api/v1/courses/matches", headers=staff, query_string={
        "level": "A1", "residence_status": "REFUGEE_RECOGNISED", "district": "eving",
        "childcare": "true"})
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert items and all(m["course"]["childcare"] for m in items)
    assert items[0]["course"]["district"] == "eving"
    assert items[0]["eligibility"] == "entitled"
    assert "entitled_44" in items[0]["reasons"] and items[0]["why"][0]
    # an EU citizen during the BAMF's admission stop: integration courses only as self-payer
    r = client.get("/api/v1/courses/matches", headers={**staff, "Accept-Language": "en"},
                   query_string={"level": "A1", "residence_status": "EU_FREE_MOVEMENT"})
    eu = r.get_json()["items"]
    assert eu and {m["eligibility"] for m in eu} == {"self_pay"}
    assert any("admission_stopped" in m["reasons"] for m in eu)
    assert any(w.startswith("the BAMF admits no one") for m in eu for w in m["why"])
    # a free course (the city's) is open to her by right, and ranks before
    r = client.get("/api/v1/courses/matches", headers=staff,
                   query_string={"level": "A2", "residence_status": "EU_FREE_MOVEMENT"})
    assert r.get_json()["items"][0]["eligibility"] == "entitled"
    r = client.get("/api/v1/courses/matches?residence_status=MARTIAN", headers=staff)
    assert r.status_code == 422 and "residence_status" in r.get_json()["errors"]["query"]


def test_import_is_all_or_nothing(tmp_path, referral_deps):
    good = {**COURSE, "provider": "course_provider", "id": str(uuid.uuid4())}
    bad = {**COURSE, "provider": "course_provider", "level": "X"}
    path = tmp_path / "courses.json"
    path.write_text(json.dumps({"courses": [good, bad]}), encoding="utf-8")
    with pytest.raises(courses_store.ImportRefused) as refused:
        import_file(referral_deps, path)
    assert list(refused.value.errors) == ["1"] and "level" in refused.value.errors["1"]
    with referral_deps.session_factory() as s:
        assert courses_store.all_courses(s) == []
    path.write_text(json.dumps({"courses": [good]}), encoding="utf-8")
    assert import_file(referral_deps, path) == 1
    assert import_file(referral_deps, path) == 1  # again: the same course, updated
    with referral_deps.session_factory() as s:
        assert [c.id for c in courses_store.all_courses(s)] == [good["id"]]


def test_the_documented_example_file_imports(referral_deps):
    assert import_file(referral_deps, Path(__file__).parent.parent / "data"
                       / "courses-example.json") == 2


def test_the_courses_command_imports_all_or_nothing_and_exports_hsds(tmp_path, capsys,
                                                                     lotse_command_env):
    from services.cli import main

    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{**COURSE, "provider": "welfare"}]), encoding="utf-8")
    with pytest.raises(SystemExit) as refused:
        main(["courses", "import", str(path)])
    assert "nothing imported" in str(refused.value) and "provider" in str(refused.value)
    main(["courses", "import", str(Path(__file__).parent.parent / "data"
                                    / "courses-example.json")])
    assert "imported 2 courses" in capsys.readouterr().out
    main(["courses", "export-hsds"])
    exported = json.loads(capsys.readouterr().out)
    assert "Frauenkurs A1 mit Kinderbetreuung" in {s["name"] for s in exported["services"]}


def test_import_takes_csv(tmp_path, referral_deps):
    path = tmp_path / "courses.csv"
    head = "provider,kind,title,level,schedule,district,childcare,funding,starts_on,places," \
           "free_places\n"
    path.write_text(head + "course_provider,women,Frauenkurs,A2,Di 9-12,eving,ja,municipal,"
                           "2027-02-01,12,4\n", encoding="utf-8")
    assert import_file(referral_deps, path) == 1
    path.write_text(head + "course_provider,women,Frauenkurs,A2,Di 9-12,eving,vielleicht,"
                           "municipal,2027-02-01,12,4\n", encoding="utf-8")
    with pytest.raises(courses_store.ImportRefused) as refused:
        import_file(referral_deps, path)
    assert "childcare" in refused.value.errors["0"]


def _intake(referral_deps, consents) -> str:
    envelope = intake_v2(consents)
    deliver(envelope, OPEN, referral_deps.uow)
    return json.loads(envelope)["data"]["intake_id"]


def test_a_place_request_needs_the_person_s_consent_for_the_provider(client, staff, demo,
                                                                     referral_deps):
    intake_id = _intake(referral_deps, [])
    course = demo[0]
    r = client.post(f"/api/v1/courses/{course.id}/place-requests", headers=staff,
                    json={"intake_id": intake_id})
    assert r.status_code == 409
    assert "consent" in r.get_json()["message"]
    with referral_deps.session_factory() as s:
        assert s.execute(select(tables.referrals).where(
            tables.referrals.c.course_id.is_not(None))).first() is None


def test_a_place_request_is_a_referral_to_the_provider_with_the_course(client, settings,
                                                                       staff, demo,
                                                                       referral_deps):
    consent = {"consent_id": str(uuid.uuid4()), "partner": "course_provider",
               "method": "digital", "language": "uk", "purpose": "referral",
               "information_version": None}
    intake_id = _intake(referral_deps, [consent])
    course = demo[0]
    r = client.post(f"/api/v1/courses/{course.id}/place-requests", headers=staff,
                    json={"intake_id": intake_id, "note": "vormittags"})
    assert r.status_code == 201, r.get_json()
    referral = r.get_json()
    assert (referral["partner"], referral["service"], referral["need"], referral["status"]) \
        == ("course_provider", "integration_course", "language_course", "requested")
    assert referral["course_id"] == course.id
    # the provider sees the course it is asked a place in, and no staff notes
    vhs = headers(settings, "vhs", "partner", "course_provider")
    seen = client.get("/api/v1/referrals", headers=vhs).get_json()["items"]
    [asked] = [i for i in seen if i.get("course_id")]
    assert asked["course_id"] == course.id and "routing_reason" not in asked
    # a full course takes no request; a bad intake id is named
    full = next(c for c in demo if c.free_places == 0)
    r = client.post(f"/api/v1/courses/{full.id}/place-requests", headers=staff,
                    json={"intake_id": intake_id})
    assert r.status_code == 409
    r = client.post(f"/api/v1/courses/{course.id}/place-requests", headers=staff,
                    json={"intake_id": "nope"})
    assert r.status_code == 422 and "intake_id" in r.get_json()["errors"]["json"]


def _hsds_validator(name: str) -> Draft202012Validator:
    resources = [(f.name, Resource.from_contents(json.loads(f.read_text(encoding="utf-8")),
                                                  default_specification=_DRAFT))
                 for f in HSDS.glob("*.json")]
    registry = Registry().with_resources(resources)
    schema = json.loads((HSDS / f"{name}.json").read_text(encoding="utf-8"))
    return Draft202012Validator(schema, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_directory_exports_as_hsds_3(client, staff, demo):
    r = client.get("/api/v1/directory/hsds", headers=staff)
    assert r.status_code == 200
    body = r.get_json()
    assert {"organizations", "services", "locations"} <= set(body)
    for table, items in (("organization", body["organizations"]),
                         ("service", body["services"]), ("location", body["locations"])):
        validator = _hsds_validator(table)
        for item in items:
            errors = sorted(validator.iter_errors(item), key=str)
            assert not errors, (table, item.get("name"), [e.message for e in errors])
    course_ids = {c.id for c in demo}
    assert course_ids <= {s["id"] for s in body["services"]}
    org_ids = {o["id"] for o in body["organizations"]}
    assert all(s["organization_id"] in org_ids for s in body["services"])
    location_ids = {loc["id"] for loc in body["locations"]}
    assert all(sal["location_id"] in location_ids for s in body["services"]
               for sal in s.get("service_at_locations", ()))


def test_the_course_list_does_not_name_who_changed_a_course_last(client, staff, provider,
                                                                  settings):
    """Every partner and staff read the directory: a provider's employee's account name is
    not theirs to read."""
    added = add(client, provider)
    welfare = headers(settings, "wf", "partner", "welfare")
    for who in (staff, welfare, provider):
        [course] = client.get("/api/v1/courses", headers=who).get_json()["items"]
        assert course["id"] == added["id"] and "updated_by" not in course
        assert "vhs" not in str(course)
