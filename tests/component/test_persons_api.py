"""Persons, consultations, consents and merges through the intake API (SQLite, no broker)."""
from __future__ import annotations

import copy
import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from services.intake import tables
from tests.component.conftest import token

COMPLETE = {
    "person": {
        "given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
        "nationality": "UA", "languages": ["uk", "ru"], "preferred_language": "uk",
        "other_names": [{"given_name": "Олена", "family_name": "Коваленко"}],
        "nationalities": ["RU"], "interpreter": "video",
        "contact": {"phone": "+49 231 1234567", "email": "olena@example.org",
                    "address": {"street": "Friedensplatz 7", "postcode": "44135",
                                "city": "Dortmund"}, "preferred_channel": "sms"},
        "household": [
            {"given_name": "Andrii", "family_name": "Kovalenko", "relation": "spouse",
             "birth_date": "1985-01-02"},
            {"given_name": "Maria", "family_name": "Kovalenko", "relation": "child",
             "birth_date": "2021-06-01"},
            {"given_name": "Ivan", "family_name": "Kovalenko", "relation": "child",
             "birth_date": "2015-09-09"}]},
    "residence_status": "TEMP_PROTECTION_24",
    "residence": {"legal_basis": "§ 24 AufenthG", "document_type": "eAT",
                  "valid_until": "2027-03-04", "first_issue_date": "2022-04-01"},
    "arrival_date": "2022-03-10", "site": "centre", "channel": "in_person",
    "notes": "needs a Kita place soon",
    "needs": [{"code": "kita_place", "urgency": "high", "note": "both parents work"},
              "living_costs", "orientation_counselling"],
    "consents": [{"partner": "welfare", "method": "signed_form", "language": "uk",
                  "information_version": "2026-01"},
                 {"partner": "jobcenter", "method": "signed_form", "language": "uk"}],
}


@pytest.fixture
def staff(intake_client):
    return token(intake_client, "staff", "pw-staff")


def post(client, staff, body, path="/api/v1/intakes"):
    return client.post(path, json=body, headers=staff)


def rows(deps, table) -> int:
    with deps.session_factory() as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_complete_intake_is_stored_with_person_household_needs_and_consents(
        intake_client, intake_deps, staff):
    r = post(intake_client, staff, COMPLETE)
    assert r.status_code == 201, r.get_json()
    person = intake_client.get(f"/api/v1/persons/{r.get_json()['person_id']}",
                               headers=staff).get_json()
    assert len(person["person"]["household"]) == 3
    assert person["person"]["other_names"][0]["given_name"] == "Олена"
    assert sorted(c["partner"] for c in person["consents"]) == ["jobcenter", "welfare"]
    assert person["consultations"][0]["need_details"][0] == {
        "code": "kita_place", "urgency": "high", "note": "both parents work",
        "for_member": None}
    with intake_deps.session_factory() as s:
        event = json.loads(s.execute(select(tables.outbox.c.body)).scalar_one())
    assert event["schemaversion"] == 2
    assert event["data"]["residence"]["first_issue_date"] == "2022-04-01"
    assert [m["relation"] for m in event["data"]["person"]["household"]] == [
        "spouse", "child", "child"]
    # minimisation: named only where a need may be theirs (the children)
    assert [m["given_name"] for m in event["data"]["person"]["household"]] == [
        None, "Maria", "Ivan"]


@pytest.mark.parametrize("postcode, chosen, district", [
    ("44145", None, "innenstadt_nord"),        # the postcode lies in one district
    ("44135", None, None),                     # it spans two: unknown until staff choose
    ("44135", "innenstadt_ost", "innenstadt_ost"),
    ("10115", None, None),                     # not in the city
])
def test_the_city_district_follows_from_the_postcode_or_staff_choose_it(
        intake_client, intake_deps, staff, postcode, chosen, district):
    body = copy.deepcopy(COMPLETE)
    body["person"]["contact"]["address"].update(postcode=postcode, district=chosen)
    r = post(intake_client, staff, body)
    assert r.status_code == 201, r.get_json()
    person = intake_client.get(f"/api/v1/persons/{r.get_json()['person_id']}",
                               headers=staff).get_json()
    assert person["person"]["contact"]["address"]["district"] == district
    with intake_deps.session_factory() as s:
        event = json.loads(s.execute(select(tables.outbox.c.body)).scalar_one())
    assert event["data"]["district"] == district
    assert "postcode" not in json.dumps(event["data"])  # the district, not the address


def test_a_second_visit_is_a_new_consultation_on_the_same_person(intake_client, staff):
    first = post(intake_client, staff, COMPLETE).get_json()
    again = copy.deepcopy(COMPLETE)
    again["needs"] = ["language_course"]
    r = post(intake_client, staff, again, f"/api/v1/persons/{first['person_id']}/consultations")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["person_id"] == first["person_id"]
    person = intake_client.get(f"/api/v1/persons/{first['person_id']}", headers=staff).get_json()
    assert len(person["consultations"]) == 2
    assert [e["kind"] for e in person["timeline"]].count("consultation") == 2


def test_a_returning_visitor_is_suggested_across_scripts(intake_client, staff):
    post(intake_client, staff, COMPLETE)
    r = intake_client.get("/api/v1/persons/matches", headers=staff, query_string={
        "given_name": "Олена", "family_name": "Коваленко", "birth_date": "1987-03-14"})
    [match] = r.get_json()["items"]
    assert match["person"]["person"]["family_name"] == "Kovalenko" and match["score"] > 0.8
    found = intake_client.get("/api/v1/persons", headers=staff,
                              query_string={"q": "Коваленко"}).get_json()["items"]
    assert len(found) == 1


def test_search_finds_a_person_by_birth_date_and_by_reference(intake_client, staff):
    intake = post(intake_client, staff, COMPLETE).get_json()
    for q in ("1987-03-14", intake["reference"]):
        found = intake_client.get("/api/v1/persons", headers=staff,
                                  query_string={"q": q}).get_json()["items"]
        assert [p["id"] for p in found] == [intake["person_id"]], q


def test_withdrawing_a_consent_is_an_event(intake_client, intake_deps, staff):
    person_id = post(intake_client, staff, COMPLETE).get_json()["person_id"]
    consents = intake_client.get(f"/api/v1/persons/{person_id}/consents",
                                 headers=staff).get_json()["items"]
    welfare = next(c for c in consents if c["partner"] == "welfare")
    r = intake_client.post(f"/api/v1/consents/{welfare['id']}/withdraw",
                           json={"reason": "changed her mind"}, headers=staff)
    assert r.status_code == 200 and r.get_json()["valid"] is False
    with intake_deps.session_factory() as s:
        types = [x.event_type for x in s.execute(select(tables.outbox)).all()]
    assert types == ["intake.recorded", "consent.withdrawn"]
    again = intake_client.post(f"/api/v1/consents/{welfare['id']}/withdraw", json={},
                               headers=staff)
    assert again.status_code == 422


def test_a_consent_can_be_given_after_the_consultation(intake_client, intake_deps, staff):
    person_id = post(intake_client, staff, COMPLETE).get_json()["person_id"]
    r = intake_client.post(f"/api/v1/persons/{person_id}/consents", headers=staff, json={
        "partner": "registration", "method": "digital", "language": "uk"})
    assert r.status_code == 201 and r.get_json()["partner"] == "registration"
    with intake_deps.session_factory() as s:
        assert s.execute(select(tables.outbox.c.event_type)
                         .order_by(tables.outbox.c.id.desc())).first()[0] == "consent.given"


def test_a_merge_moves_the_visits_and_can_be_undone(intake_client, staff):
    a = post(intake_client, staff, COMPLETE).get_json()
    b = post(intake_client, staff, COMPLETE).get_json()
    r = intake_client.post(f"/api/v1/persons/{a['person_id']}/merge", headers=staff,
                           json={"duplicate_id": b["person_id"], "reason": "same passport"})
    assert r.status_code == 201, r.get_json()
    merged = intake_client.get(f"/api/v1/persons/{a['person_id']}", headers=staff).get_json()
    assert len(merged["consultations"]) == 2 and merged["merges"][0]["merged_by"] == "staff"
    dup = intake_client.get(f"/api/v1/persons/{b['person_id']}", headers=staff).get_json()
    assert dup["merged_into"] == a["person_id"]
    undo = intake_client.post(f"/api/v1/merges/{r.get_json()['id']}/undo", headers=staff)
    assert undo.status_code == 200 and undo.get_json()["undone_by"] == "staff"
    back = intake_client.get(f"/api/v1/persons/{b['person_id']}", headers=staff).get_json()
    assert back["merged_into"] is None and len(back["consultations"]) == 1


REQUIRED = [("person",), ("residence_status",), ("site",), ("needs",),
            ("person", "given_name"), ("person", "family_name"), ("person", "birth_date"),
            ("person", "nationality"), ("person", "languages")]


def drop(body: dict, path: tuple) -> dict:
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    node.pop(path[-1])
    return body


def put(body: dict, path: tuple, value) -> dict:
    body = copy.deepcopy(body)
    node = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


def named(response, path: tuple) -> bool:
    node = response.get_json()["errors"]["json"]
    for part in path:
        node = node[str(part)] if isinstance(node, dict) and str(part) in node else node[part]
    return bool(node)


BAD = [
    *[(lambda b, p=p: drop(b, p), p) for p in REQUIRED],
    # wrong types
    (lambda b: put(b, ("person", "languages"), "uk"), ("person", "languages")),
    (lambda b: put(b, ("needs",), "living_costs"), ("needs",)),
    (lambda b: put(b, ("person", "household"), {"x": 1}), ("person", "household")),
    (lambda b: put(b, ("person", "birth_date"), 19870314), ("person", "birth_date")),
    (lambda b: put(b, ("consents",), [{"partner": "welfare", "method": "signed_form",
                                       "language": 5}]), ("consents", 0, "language")),
    # unknown codes
    (lambda b: put(b, ("residence_status",), "REFUGEE"), ("residence_status",)),
    (lambda b: put(b, ("needs",), ["money"]), ("needs", 0)),
    (lambda b: put(b, ("needs",), [{"code": "kita_place", "urgency": "asap"}]),
     ("needs", 0)),
    (lambda b: put(b, ("person", "nationality"), "XY"), ("person", "nationality")),
    (lambda b: put(b, ("person", "languages"), ["klingon"]), ("person", "languages", 0)),
    (lambda b: put(b, ("consents",), [{"partner": "police", "method": "signed_form",
                                       "language": "uk"}]), ("consents", 0, "partner")),
    (lambda b: put(b, ("person", "household", 0, "relation"), "cousin"),
     ("person", "household", 0, "relation")),
    (lambda b: put(b, ("site",), "street"), ("site",)),
    # a need for a household member: a member the household has, once per member
    (lambda b: put(b, ("needs",), [{"code": "school_place", "for_member": 3}]),
     ("needs", 0, "for_member")),
    (lambda b: put(b, ("needs",), [{"code": "school_place", "for_member": "2"}]),
     ("needs", 0)),
    (lambda b: put(b, ("needs",), [{"code": "school_place", "for_member": -1}]),
     ("needs", 0)),
    (lambda b: put(b, ("needs",), [{"code": "school_place", "for_member": 2}] * 2),
     ("needs",)),
    (lambda b: put(b, ("needs",), ["school_place", {"code": "school_place", "for_member": 2}]),
     ("needs", 0, "for_member")),  # unnamed: it could go to the same child
    # oversized strings
    (lambda b: put(b, ("person", "given_name"), "x" * 201), ("person", "given_name")),
    (lambda b: put(b, ("notes",), "x" * 2001), ("notes",)),
    (lambda b: put(b, ("residence", "legal_basis"), "x" * 101), ("residence", "legal_basis")),
    (lambda b: put(b, ("person", "contact", "address", "street"), "x" * 201),
     ("person", "contact", "address", "street")),
    # formats and rules
    (lambda b: put(b, ("person", "contact", "address", "postcode"), "4413"),
     ("person", "contact", "address", "postcode")),
    (lambda b: put(b, ("person", "contact", "address", "district"), "kreuzviertel"),
     ("person", "contact", "address", "district")),
    (lambda b: put(b, ("person", "contact", "address", "district"), "eving"),  # 44135: city
     ("person", "contact", "address", "district")),
    (lambda b: put(put(b, ("person", "contact", "address", "postcode"), "10115"),
                   ("person", "contact", "address", "district"), "eving"),  # Berlin
     ("person", "contact", "address", "district")),
    (lambda b: put(b, ("person", "contact", "email"), "not-an-address"),
     ("person", "contact", "email")),
    (lambda b: put(b, ("person", "household", 1, "birth_date"), "2099-01-01"),
     ("person", "household", 1, "birth_date")),
    (lambda b: put(b, ("person", "preferred_language"), "ar"), ("person", "preferred_language")),
    (lambda b: put(b, ("arrival_date",), "2099-01-01"), ("arrival_date",)),
    (lambda b: put(b, ("person_id",), "00000000-0000-0000-0000-000000000000"), ("person_id",)),
    (lambda b: put(b, ("consents",), COMPLETE["consents"][:1] * 2), ("consents",)),
    (lambda b: put(b, ("person", "shoe_size"), 42), ("person", "shoe_size")),
    # names: one line of visible text in any script; birth dates from 1900-01-01
    *[(lambda b, p=p, v=v: put(b, p, v), p) for p, v in [
        (("person", "given_name"), "Ol\x00ena"),
        (("person", "family_name"), "Kova\x1b[31mlenko"),
        (("person", "given_name"), "Olena\r\nX-Injected: 1"),
        (("person", "family_name"), "   "),
        (("person", "given_name"), "Ol\u200bena"),
        (("person", "given_name"), "Ol\u200cena"),
        (("person", "family_name"), "\u202eoknelavoK"),
        (("person", "given_name"), "\ufeffOlena"),
        (("person", "other_names", 0, "given_name"), "Олена\u2060"),
        (("person", "other_names", 0, "family_name"), ""),
        (("person", "household", 0, "given_name"), "\u2067Andrii\u2069"),
        (("person", "household", 1, "family_name"), "\t"),
        (("person", "birth_date"), "0001-01-01"),
        (("person", "household", 0, "birth_date"), "1899-12-31")]],
]


@pytest.mark.parametrize("spoil, path", BAD, ids=[".".join(map(str, p)) for _, p in BAD])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
        intake_client, intake_deps, staff, spoil, path):
    r = post(intake_client, staff, spoil(COMPLETE))
    assert r.status_code == 422, r.get_json()
    assert named(r, path), r.get_json()
    for table in (tables.persons, tables.intakes, tables.consents, tables.household_members,
                  tables.outbox):
        assert rows(intake_deps, table) == 0


def test_the_openapi_document_validates_and_the_docs_page_is_served(intake_client, staff):
    spec = intake_client.get("/api/v1/openapi.json", headers=staff).get_json()
    validate(spec)
    assert {"/api/v1/persons/{person_id}", "/api/v1/persons/matches",
            "/api/v1/consents/{consent_id}/withdraw"} <= set(spec["paths"])
    page = intake_client.get("/api/v1/docs", headers=staff)
    assert page.status_code == 200 and b"swagger-ui" in page.data
    asset = intake_client.get("/api/v1/swagger-ui/swagger-ui-bundle.js", headers=staff)
    assert asset.status_code == 200


def test_the_pages_answer_an_unknown_consent_or_merge_with_404(intake_client, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    none = "00000000-0000-0000-0000-000000000000"
    withdraw = intake_client.post(f"/persons/{none}/consents/{none}/withdraw", headers=staff,
                                  data={"reason": "asked"})
    assert withdraw.status_code == 404
    assert "keine Einwilligung mit dieser Kennung" in withdraw.get_data(as_text=True)
    undo = intake_client.post("/merges/no-such-merge/undo", headers=staff, data={"back": "/"})
    assert undo.status_code == 404
    assert "keine Zusammenführung mit dieser Kennung" in undo.get_data(as_text=True)


def test_the_page_withdraws_only_a_consent_of_the_person_it_names(intake_client, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    a = post(intake_client, staff, COMPLETE).get_json()
    other = {**COMPLETE, "person": {**COMPLETE["person"], "given_name": "Petro",
                                    "birth_date": "1990-01-01"}}
    b = post(intake_client, staff, other).get_json()
    consent = intake_client.get(f"/api/v1/persons/{a['person_id']}/consents",
                                headers=staff).get_json()["items"][0]
    wrong = f"/persons/{b['person_id']}/consents/{consent['id']}/withdraw"
    assert intake_client.post(wrong, headers=staff, data={}).status_code == 404
    after = intake_client.get(f"/api/v1/persons/{a['person_id']}/consents",
                              headers=staff).get_json()["items"][0]
    assert after["withdrawn_at"] is None


def test_withdrawing_twice_or_undoing_twice_on_the_pages_is_told_not_failed(intake_client,
                                                                           staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    a = post(intake_client, staff, COMPLETE).get_json()
    b = post(intake_client, staff, COMPLETE).get_json()
    consent = intake_client.get(f"/api/v1/persons/{a['person_id']}/consents",
                                headers=staff).get_json()["items"][0]["id"]
    path = f"/persons/{a['person_id']}/consents/{consent}/withdraw"
    assert intake_client.post(path, headers=staff, data={}).status_code == 302
    assert intake_client.post(path, headers=staff, data={}).status_code == 302
    merge = intake_client.post(f"/api/v1/persons/{a['person_id']}/merge", headers=staff,
                               json={"duplicate_id": b["person_id"]}).get_json()["id"]
    for _ in range(2):
        assert intake_client.post(f"/merges/{merge}/undo", headers=staff,
                                  data={"back": "/"}).status_code == 302


def test_names_in_any_script_with_marks_joiners_apostrophes_and_hyphens_are_kept_as_typed(
        intake_client, staff):
    persian_alizadeh = "\u0639\u0644\u06cc\u200c\u0632\u0627\u062f\u0647"  # with ZWNJ
    names = {"given_name": "مُحَمَّد رضا", "family_name": persian_alizadeh}
    household = [{"given_name": "Zoë-Anne", "family_name": "O\u2019Brien", "relation": "spouse",
                  "birth_date": "1900-01-01"},
                 {"given_name": "Nguyễn Thị", "family_name": "Ðorđe", "relation": "child",
                  "birth_date": "2021-06-01"}]
    body = put(put(put(COMPLETE, ("person", "given_name"), names["given_name"]),
                   ("person", "family_name"), names["family_name"]),
               ("person", "household"), household)
    r = post(intake_client, staff, body)
    assert r.status_code == 201, r.get_json()
    person = intake_client.get(f"/api/v1/persons/{r.get_json()['person_id']}",
                               headers=staff).get_json()["person"]
    assert {k: person[k] for k in names} == names
    assert person["other_names"] == COMPLETE["person"]["other_names"]
    assert [(m["given_name"], m["family_name"]) for m in person["household"]] == [
        ("Zoë-Anne", "O\u2019Brien"), ("Nguyễn Thị", "Ðorđe")]


def test_the_form_records_a_need_for_the_household_member_chosen(intake_client, intake_deps,
                                                                staff):
    """Each need's "for whom" names a household row; blank rows are left out of the
    household, so the row number becomes the member's place in it."""
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    form = {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
            "nationality": "UA", "languages": "uk", "residence_status": "TEMP_PROTECTION_24",
            "site": "infopoint", "needs": ["school_place", "living_costs"],
            "for-school_place": "2", "for-living_costs": "",
            "consent_scope": "routed", "consent_method": "signed_form",
            "consent_language": "uk",
            "hh-0-given_name": "Andrii", "hh-0-family_name": "Kovalenko",
            "hh-0-relation": "spouse", "hh-0-birth_date": "1985-01-02",
            "hh-2-given_name": "Ivan", "hh-2-family_name": "Kovalenko",
            "hh-2-relation": "child", "hh-2-birth_date": "2015-09-09"}
    page = intake_client.get("/intakes/new", headers=staff).get_data(as_text=True)
    assert 'name="for-school_place"' in page and "Für wen" in page
    form["for-school_place"] = "1"  # a blank row: refused next to the need, nothing stored
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code == 422
    assert ('data-field="needs.0.for_member">nennt kein Haushaltsmitglied'
            in r.get_data(as_text=True))
    assert rows(intake_deps, tables.intakes) == 0
    form["for-school_place"] = "2"
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]
    with intake_deps.session_factory() as s:
        details = s.execute(select(tables.intakes.c.need_details)).scalar_one()
    assert [(n["code"], n["for_member"]) for n in details] == [("school_place", 1),
                                                               ("living_costs", None)]


def test_the_form_refuses_an_invisible_name_in_german_next_to_the_field(intake_client,
                                                                        intake_deps, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    form = {"given_name": "Ol\u200bena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
            "nationality": "UA", "languages": "uk", "residence_status": "TEMP_PROTECTION_24",
            "site": "infopoint", "needs": "living_costs", "consent_scope": "routed",
            "consent_method": "signed_form", "consent_language": "uk",
            "hh-0-given_name": "Andrii", "hh-0-family_name": "Kovalenko",
            "hh-0-relation": "spouse", "hh-0-birth_date": "0001-01-01"}
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'data-field="person.given_name">Enthält ein unsichtbares Zeichen' in page
    assert rows(intake_deps, tables.intakes) == 0
    form["given_name"] = "Olena"
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code == 422
    assert ('data-field="person.household.0.birth_date">liegt vor dem 01.01.1900'
            in r.get_data(as_text=True))
    assert rows(intake_deps, tables.intakes) == 0


def test_a_household_error_is_shown_at_the_row_it_came_from_past_a_blank_row(intake_client,
                                                                            intake_deps, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    form = {**FORM, "hh-0-given_name": "Andrii", "hh-0-relation": "spouse",
            "hh-0-birth_date": "1985-02-02",  # row 1 left blank
            "hh-2-given_name": "Mila", "hh-2-relation": "child", "hh-2-birth_date": "0001-01-01"}
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'data-field="person.household.2.birth_date">liegt vor dem 01.01.1900' in page
    assert 'data-field="person.household.1.birth_date">' not in page
    assert 'href="#hh-2-birth_date"' in page  # the summary links the row typed in
    assert "Haushaltsmitglied 3: Geburtsdatum" in page
    assert rows(intake_deps, tables.intakes) == 0


# -- the form: words, pickers, errors (issue 20) ----------------------------------------------

FORM = {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-14",
        "nationality": "Ukraine", "languages": "Ukrainisch, russian",
        "nationalities": "Russland", "preferred_language": "Ukrainisch",
        "residence_status": "TEMP_PROTECTION_24", "site": "infopoint", "channel": "in_person",
        "interpreter": "video", "needs": "living_costs", "consent_scope": "routed",
        "consent_method": "signed_form", "consent_language": "ukrainisch"}


def test_the_form_shows_words_and_offers_countries_and_languages_by_name(intake_client, staff):
    page = intake_client.get("/intakes/new", headers=staff).get_data(as_text=True)
    assert "TEMP_PROTECTION_24 ·" not in page and "ISO" not in page
    assert '<option value="TEMP_PROTECTION_24" selected>Vorübergehender Schutz' in page
    assert '<option value="spouse" >Ehe-' in page or '<option value="spouse" >' in page
    assert 'aria-label="Haushaltsmitglied 1: Vorname"' in page
    assert '<option value="video" >per Video</option>' in page or 'value="video"' in page
    countries = page[page.index('<datalist id="country-names">'):]
    countries = countries[:countries.index("</datalist>")]
    assert countries.index('"Ukraine"') < countries.index('"Syrien"') < countries.index(
        '"Ägypten"') < countries.index('"Deutschland"')  # the frequent ones first
    assert 'value="UA"' not in countries
    languages = page[page.index('<datalist id="language-names">'):]
    assert languages.index('"Ukrainisch"') < languages.index('"Arabisch"') < languages.index(
        '"Dänisch"')
    assert 'list="country-names"' in page and 'list="language-names"' in page


def test_countries_and_languages_typed_by_name_are_recorded_by_their_codes(intake_client,
                                                                          staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    r = intake_client.post("/intakes/new", data=FORM, headers=staff)
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]
    person_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    person = intake_client.get(f"/api/v1/persons/{person_id}", headers=staff).get_json()
    p = person["person"]
    assert (p["nationality"], p["languages"], p["preferred_language"]) == ("UA", ["uk", "ru"],
                                                                           "uk")
    assert "RU" in p["nationalities"]
    # a returning visitor's form shows the names again, not the codes
    page = intake_client.get(f"/intakes/new?person_id={person_id}",
                             headers=staff).get_data(as_text=True)
    assert 'id="nationality" name="nationality" type="text" value="Ukraine"' in page
    assert 'value="Ukrainisch, Russisch"' in page and 'value="Russland"' in page


def test_codes_typed_still_count_and_spaces_part_them(intake_client, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    form = {**FORM, "nationality": "ua", "languages": "uk ru", "nationalities": "",
            "preferred_language": "", "consent_language": "uk"}
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:2000]


def test_errors_are_summed_up_on_top_linked_to_their_fields_and_nothing_typed_is_lost(
        intake_client, intake_deps, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False
    form = {**FORM, "nationality": "Atlantis", "languages": "Ukrainisch, Elbisch",
            "hh-1-given_name": "Mila", "hh-1-family_name": "Kovalenko",
            "hh-1-relation": "child", "hh-1-birth_date": "2014-01-01", "email": "kein-at"}
    r = intake_client.post("/intakes/new", data=form, headers=staff)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert rows(intake_deps, tables.intakes) == 0
    summary = page[page.index('id="error-summary"'):]
    summary = summary[:summary.index("</div>")]
    assert 'tabindex="-1"' in page[page.index('id="error-summary"') - 60:][:120]
    assert "Bitte korrigieren Sie diese Angaben" in summary
    links = summary.split('<li><a href="')[1:]
    assert [link.split('"')[0] for link in links] == [
        "#nationality", "#languages", "#email"]  # in the form's order
    assert "Staatsangehörigkeit: Unbekanntes Land: „Atlantis“" in summary
    assert "Unbekannte Sprache: „Elbisch“" in summary
    assert "E-Mail: " in summary
    # at each field: the error, and the field marked invalid and pointing to it
    assert 'value="Atlantis" required list="country-names" autocomplete="off" placeholder="' in page
    for field, path in (("nationality", "person-nationality"), ("languages", "person-languages"),
                        ("email", "person-contact-email")):
        tag = page[page.index(f'id="{field}"'):]
        tag = tag[:tag.index(">")]
        assert f'aria-invalid="true" aria-describedby="err-{path}"' in tag, tag
        assert f'<div class="error" id="err-{path}"' in page
    assert 'data-field="person.nationality">Unbekanntes Land: „Atlantis“' in page
    assert 'value="Ukrainisch, Elbisch"' in page and 'value="Mila"' in page
    assert 'value="2014-01-01"' in page and "autofocus" not in page
    assert 'id="given_name" name="given_name" type="text" value="Olena"' in page


def test_lists_of_other_services_get_the_persons_names_and_the_access_is_logged(
        intake_client, staff, smoke_intake):
    person_id = post(intake_client, staff, smoke_intake).get_json()["person_id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    r = intake_client.get(f"/api/v1/persons/names?id={person_id}&id={unknown}", headers=staff)
    assert r.status_code == 200
    assert r.get_json()["items"] == [{"id": person_id, "given_name": "Olena",
                                      "family_name": "Kovalenko"}]
    log = intake_client.get(f"/api/v1/persons/{person_id}/access-log", headers=staff)
    assert "listed" in [e["action"] for e in log.get_json()["items"]]
    for query, field in (("", "id"), ("?id=not-a-uuid", "id")):
        refused = intake_client.get("/api/v1/persons/names" + query, headers=staff)
        assert refused.status_code == 422 and field in str(refused.get_json()), query
    many = "&".join(f"id={unknown}" for _ in range(101))
    assert intake_client.get(f"/api/v1/persons/names?{many}", headers=staff).status_code == 422


def test_the_form_asks_before_saving_needs_without_a_consent_and_accepts_german_dates(
        intake_client, intake_deps, staff):
    """Needs without any consent would wait: the form asks first and keeps what was typed;
    confirmed, it saves. Dates are typed as Germans write them (TT.MM.JJJJ or TTMMJJJJ)."""
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    form = {**{k: v for k, v in FORM.items() if k not in ("consent_scope",)},
            "birth_date": "14.03.1987", "hh-0-given_name": "Ivan", "hh-0-relation": "child",
            "hh-0-birth_date": "09092015", "street": "Hauptstraße 12", "postcode": "44137",
            "city": "Dortmund"}
    asked = intake_client.post("/intakes/new", data=form, headers=staff)
    page = asked.get_data(as_text=True)
    assert asked.status_code == 422 and 'id="without_consent"' in page
    assert "Es ist keine Einwilligung zur Weitergabe erfasst" in page
    assert 'value="14.03.1987"' in page and 'value="Hauptstraße 12"' in page
    assert rows(intake_deps, tables.intakes) == 0
    saved = intake_client.post("/intakes/new", data={**form, "without_consent": "yes"},
                               headers=staff)
    assert saved.status_code in (302, 303), saved.get_data(as_text=True)[:2000]
    person = intake_client.get(saved.headers["Location"].replace("/persons/",
                                                                 "/api/v1/persons/"),
                               headers=staff).get_json()["person"]
    assert person["birth_date"] == "1987-03-14"
    # the child's family name, left blank, is the person's
    assert [(m["given_name"], m["family_name"], m["birth_date"])
            for m in person["household"]] == [("Ivan", "Kovalenko", "2015-09-09")]
