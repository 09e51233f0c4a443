"""The intake API over HTTP (Flask test client, SQLite): contract, errors, outbox, auth."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from services.intake import tables
from tests.component.conftest import token


def count(deps, table) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def staff(intake_client):
    return token(intake_client, "staff", "pw-staff")


def test_the_smoke_request_is_accepted_and_its_event_is_in_the_outbox(
        intake_client, intake_deps, staff, smoke_intake):
    r = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=staff)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["person"]["family_name"] == "Kovalenko" and body["referrals"] == []
    assert r.headers["Location"].endswith(body["id"])
    with intake_deps.session_factory() as s:
        row = s.execute(select(tables.outbox)).one()
    event = json.loads(row.body)
    assert event["type"] == "intake.recorded" and event["data"]["intake_id"] == body["id"]
    assert [n["code"] for n in event["data"]["needs"]] == smoke_intake["needs"]


def test_an_intake_can_be_read_back(intake_client, staff, smoke_intake):
    created = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=staff).get_json()
    r = intake_client.get(f"/api/v1/intakes/{created['id']}", headers=staff)
    assert r.status_code == 200 and r.get_json()["reference"] == created["reference"]
    assert intake_client.get("/api/v1/intakes/00000000-0000-0000-0000-000000000000",
                             headers=staff).status_code == 404


def test_intakes_are_listed_newest_first_and_paginated(intake_client, staff, smoke_intake):
    ids = []
    for name in ("A", "B", "C"):
        smoke_intake["person"]["given_name"] = name
        ids.append(intake_client.post("/api/v1/intakes", json=smoke_intake,
                                      headers=staff).get_json()["id"])
    page = intake_client.get("/api/v1/intakes?per_page=2", headers=staff).get_json()
    assert page["total"] == 3 and [i["id"] for i in page["items"]] == ids[::-1][:2]
    page2 = intake_client.get("/api/v1/intakes?per_page=2&page=2", headers=staff).get_json()
    assert [i["id"] for i in page2["items"]] == [ids[0]]


@pytest.mark.parametrize("change, path", [
    (lambda d: d["person"].update(birth_date="14.03.1987"), ["person", "birth_date"]),
    (lambda d: d["person"].update(nationality="Ukraine"), ["person", "nationality"]),
    (lambda d: d["person"].update(languages=["ukrainian"]), ["person", "languages"]),
    (lambda d: d.update(residence_status="REFUGEE"), ["residence_status"]),
    (lambda d: d.update(needs=["money"]), ["needs"]),
    (lambda d: d.update(surprise=True), ["surprise"]),
    (lambda d: d["consent"].pop("method"), ["consent", "method"]),
    (lambda d: d["consent"].update(share_with_partners="yes"),
     ["consent", "share_with_partners"]),
    (lambda d: d["person"].update(birth_date="2099-01-01"), ["person", "birth_date"]),
])
def test_bad_input_names_the_field_and_stores_nothing(
        intake_client, intake_deps, staff, smoke_intake, change, path):
    change(smoke_intake)
    r = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=staff)
    assert r.status_code == 422
    node = r.get_json()["errors"]["json"]
    for part in path:
        node = node[part]
    assert node
    assert count(intake_deps, tables.intakes) == 0
    assert count(intake_deps, tables.outbox) == 0


def test_the_api_needs_a_token_and_the_staff_role(intake_client, smoke_intake):
    assert intake_client.post("/api/v1/intakes", json=smoke_intake).status_code == 401
    welfare = token(intake_client, "welfare", "pw-welfare")
    assert intake_client.get("/api/v1/intakes", headers=welfare).status_code == 403
    bad = {"Authorization": "Bearer forged.token"}
    assert intake_client.get("/api/v1/intakes", headers=bad).status_code == 401


def test_a_wrong_password_gets_no_token(intake_client):
    r = intake_client.post("/api/v1/auth/token", json={"username": "staff", "password": "no"})
    assert r.status_code == 401


def test_health_checks_need_no_login(intake_client):
    assert intake_client.get("/healthz").status_code == 200
    r = intake_client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["checks"] == {"database": "ok", "bus": "ok"}


def test_the_openapi_document_describes_the_intake_schema(intake_client, staff):
    assert intake_client.get("/api/v1/openapi.json").status_code == 401
    spec = intake_client.get("/api/v1/openapi.json", headers=staff).get_json()
    assert "/api/v1/intakes" in spec["paths"]
    assert "IntakeIn" in spec["components"]["schemas"]


def test_a_body_nested_too_deeply_is_refused_naming_the_limit(intake_client, intake_deps,
                                                              staff, smoke_intake):
    deep = '{"person": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = intake_client.post("/api/v1/intakes", data=deep, headers=staff,
                           content_type="application/json")
    assert r.status_code == 400 and "deeper than 32 levels" in r.get_json()["message"]
    unclosed = intake_client.post("/api/v1/intakes", data="[" * 100_000, headers=staff,
                                  content_type="application/json")
    assert unclosed.status_code == 400
    smoke_intake["notes"] = json.loads("[" * 31 + "]" * 31)  # at the limit: the schema answers
    at_limit = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=staff)
    assert at_limit.status_code == 422 and "notes" in at_limit.get_json()["errors"]["json"]
    assert count(intake_deps, tables.intakes) == 0


@pytest.mark.parametrize("page", ["1e23", "99999999999999999999999", "0", "-3", "x"])
def test_the_intake_list_page_refuses_an_absurd_page_number(intake_client, staff, page):
    api = intake_client.get(f"/api/v1/intakes?page={page}", headers=staff)
    assert api.status_code == 422 and "page" in api.get_json()["errors"]["query"]
    ui = intake_client.get(f"/intakes?page={page}", headers=staff)
    assert ui.status_code == 422 and "page" in ui.get_data(as_text=True)
