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


def test_a_server_stays_ready_while_the_broker_is_away(settings, intake_deps):
    """Its events wait in its outbox: the server serves, /readyz says what is missing."""
    from dataclasses import replace as changed

    from services.intake.app import create_app

    away = changed(settings.for_service("intake"), broker_url="amqp://guest:guest@127.0.0.1:1//")
    r = create_app(away, intake_deps).test_client().get("/readyz")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["checks"]["database"] == "ok"
    assert r.get_json()["checks"]["bus"].startswith("unavailable")


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


def test_a_repeated_request_with_the_same_key_gets_the_same_201_and_records_once(
        intake_client, intake_deps, staff, smoke_intake):
    keyed = {**staff, "Idempotency-Key": "4b0c1c2e-retry-1"}
    first = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=keyed)
    assert first.status_code == 201, first.get_json()
    events = count(intake_deps, tables.outbox)
    reordered = json.loads(json.dumps(smoke_intake, sort_keys=True))  # same content
    again = intake_client.post("/api/v1/intakes", json=reordered, headers=keyed)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert count(intake_deps, tables.intakes) == 1
    assert count(intake_deps, tables.outbox) == events  # no second intake.recorded


def test_the_same_key_with_another_body_is_a_conflict(intake_client, intake_deps, staff,
                                                      smoke_intake):
    keyed = {**staff, "Idempotency-Key": "retry-2"}
    assert intake_client.post("/api/v1/intakes", json=smoke_intake,
                              headers=keyed).status_code == 201
    smoke_intake["needs"] = ["living_costs"]
    r = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=keyed)
    assert r.status_code == 409
    assert "Idempotency-Key was used with another body" in r.get_json()["message"]
    assert count(intake_deps, tables.intakes) == 1


def test_keys_belong_to_their_user_and_without_a_key_every_request_records(
        intake_client, intake_deps, staff, smoke_intake):
    from services.intake.accounts import save_account

    with intake_deps.session_factory() as s:
        save_account(s, "staff2", "pw-staff-2-long-enough", "staff")
        s.commit()
    other = token(intake_client, "staff2", "pw-staff-2-long-enough")
    for headers in (staff, other):
        r = intake_client.post("/api/v1/intakes", json=smoke_intake,
                               headers={**headers, "Idempotency-Key": "shared-key"})
        assert r.status_code == 201
    for _ in range(2):
        assert intake_client.post("/api/v1/intakes", json=smoke_intake,
                                  headers=staff).status_code == 201
    assert count(intake_deps, tables.intakes) == 4


@pytest.mark.parametrize("key", ["", "x" * 256, "schlüssel", "two words"])
def test_an_unusable_key_is_refused_naming_the_header(intake_client, intake_deps, staff,
                                                      smoke_intake, key):
    r = intake_client.post("/api/v1/intakes", json=smoke_intake,
                           headers={**staff, "Idempotency-Key": key.encode().decode("latin-1")})
    assert r.status_code == 422 and "Idempotency-Key" in r.get_json()["errors"]["headers"]
    assert count(intake_deps, tables.intakes) == 0


def test_two_requests_with_the_same_key_at_once_record_one_intake(
        intake_client, intake_deps, staff, smoke_intake, monkeypatch):
    from tests.component.conftest import post_twice_at_once

    first, second = post_twice_at_once(intake_client.application,
                                       {**staff, "Idempotency-Key": "at-once"}, smoke_intake,
                                       monkeypatch)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert count(intake_deps, tables.intakes) == 1


def test_keys_are_purged_after_a_day_and_an_erasure_leaves_nothing_leading_to_the_person(
        intake_client, intake_deps, staff, smoke_intake):
    from datetime import timedelta

    from services.intake.erasure import erase_person
    from services.intake.retention import purges
    from shared.clock import utcnow

    keyed = {**staff, "Idempotency-Key": "erase-me"}
    body = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=keyed).get_json()
    erase_person(intake_deps.uow(), body["person_id"], requested_by="admin", reason="Art. 17",
                 now=utcnow())
    with intake_deps.session_factory() as s:
        row = s.execute(select(tables.intake_idempotency_keys)).one()
    assert row.intake_id is None and row.body_hash is None
    r = intake_client.post("/api/v1/intakes", json=smoke_intake, headers=keyed)
    assert r.status_code == 409 and "erased" in r.get_json()["message"]
    assert count(intake_deps, tables.intakes) == 0
    purge = purges(intake_deps)["idempotency_keys"]
    now = utcnow()
    assert purge.apply(now - timedelta(days=1), now, False) == 0  # kept a day
    assert purge.apply(now + timedelta(seconds=1), now, False) == 1
    assert count(intake_deps, tables.intake_idempotency_keys) == 0
