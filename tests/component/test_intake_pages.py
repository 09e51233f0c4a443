"""The intake's pages other than the form say everything in the UI's language (issue 20):
words for codes, names for countries and languages, German dates and Berlin times, match
reasons and timeline entries in German; and the person search takes a German date."""
from __future__ import annotations

import copy
import re

import pytest

from services.intake import matching, queries
from tests.component.conftest import token
from tests.component.test_persons_api import COMPLETE, post
from tests.e2e.pages import Page, _Reader, problems


@pytest.fixture
def staff(intake_client):
    return token(intake_client, "staff", "pw-staff")


def page_of(answer) -> Page:
    reader = _Reader()
    reader.feed(answer.get_data(as_text=True))
    return Page("", answer.status_code, reader.texts, reader.links)


def text_of(answer) -> str:
    return " | ".join(page_of(answer).texts)


@pytest.fixture
def merged_pair(intake_client, staff):
    """Olena twice (the second spelt differently, a day apart) merged, a consent withdrawn."""
    a = post(intake_client, staff, COMPLETE).get_json()
    other = copy.deepcopy(COMPLETE)
    other["person"].update(family_name="Kowalenko", birth_date="1987-03-15")
    b = post(intake_client, staff, other).get_json()
    third = copy.deepcopy(COMPLETE)
    c = post(intake_client, staff, third).get_json()  # stays a possible duplicate of a
    merge = intake_client.post(f"/api/v1/persons/{a['person_id']}/merge", headers=staff,
                               json={"duplicate_id": b["person_id"], "reason": "Pass"})
    assert merge.status_code == 201, merge.get_json()
    consent = intake_client.get(f"/api/v1/persons/{a['person_id']}/consents",
                                headers=staff).get_json()["items"][-1]
    assert intake_client.post(f"/api/v1/consents/{consent['id']}/withdraw", headers=staff,
                              json={}).status_code in (200, 201)
    return a, b, c


def test_the_pages_of_a_person_show_no_code_english_or_iso_date_in_german(
        intake_client, staff, merged_pair):
    a, b, _ = merged_pair
    german = {**staff, "Accept-Language": "de"}
    for path in ("/intakes", f"/intakes/{a['id']}", f"/intakes/{b['id']}",
                 f"/persons/{a['person_id']}", f"/persons/{a['person_id']}/access-log",
                 f"/persons/{a['person_id']}/erasure", "/persons?q=Kovalenko",
                 "/persons?q=14.03.1987"):
        answer = intake_client.get(path, headers=german)
        assert answer.status_code == 200, path
        assert problems(page_of(answer)) == [], path


def test_the_person_page_says_its_facts_in_words(intake_client, staff, merged_pair):
    a, _, _ = merged_pair
    text = text_of(intake_client.get(f"/persons/{a['person_id']}",
                                     headers={**staff, "Accept-Language": "de"}))
    assert "14.03.1987" in text and "Ukraine, Russland" in text
    assert "Ukrainisch, Russisch · Dolmetschung: per Video" in text
    assert "Ehepartner" in text and "02.01.1985" in text
    assert "Bevorzugter Kontaktweg: SMS" in text
    assert "Wohlfahrtsverbände (MBE/JMD)" in text and "Text auf Ukrainisch" in text
    assert "Einwilligung widerrufen" in text  # the timeline's entry
    page = intake_client.get(f"/persons/{a['person_id']}", headers=staff).get_data(as_text=True)
    timeline = page[page.index('id="timeline"'):page.index("</table>", page.index('id="timeline"'))]
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", timeline)  # no consent or merge ids
    assert "LT-" in timeline  # a consultation's reference stays
    assert "gleicher Name (Olena Kovalenko); gleiches Geburtsdatum" in text  # the duplicate
    assert "Zusammenführung" in text and "Grund:" in text and "Pass" not in text
    english = text_of(intake_client.get(f"/persons/{a['person_id']}",
                                        headers={**staff, "Accept-Language": "en"}))
    assert "Mar 14, 1987" in english and "Ukrainian, Russian" in english
    assert "same name (Olena Kovalenko); same date of birth" in english


def test_the_consultation_and_the_list_show_words_and_berlin_times(intake_client, staff):
    intake = post(intake_client, staff, COMPLETE).get_json()
    german = {**staff, "Accept-Language": "de"}
    detail = text_of(intake_client.get(f"/intakes/{intake['id']}", headers=german))
    assert "Vorübergehender Schutz (§ 24 AufenthG)" in detail
    assert "geboren 14.03.1987 · Ukraine" in detail and "Sprachen: Ukrainisch, Russisch" in detail
    listed = text_of(intake_client.get("/intakes", headers=german))
    assert "UTC" not in listed and "14.03.1987 · Ukraine" in listed


@pytest.mark.parametrize("typed", ["14.03.1987", "14.3.1987", "1987-03-14", " 14.03.1987 "])
def test_the_search_finds_a_person_by_a_german_or_iso_date_of_birth(intake_client, staff,
                                                                      typed):
    intake = post(intake_client, staff, COMPLETE).get_json()
    found = intake_client.get("/api/v1/persons", headers=staff,
                              query_string={"q": typed}).get_json()["items"]
    assert [p["id"] for p in found] == [intake["person_id"]]
    page = intake_client.get("/persons", headers=staff, query_string={"q": typed})
    assert f"/persons/{intake['person_id']}" in page.get_data(as_text=True)


def test_a_typed_date_is_read_as_germans_write_it():
    assert queries.typed_date("14.03.1987") == queries.typed_date("1987-03-14")
    assert queries.typed_date("31.02.1987") is None and queries.typed_date("Olena") is None


def test_match_reasons_keep_english_in_the_domain_and_follow_the_ui_language(intake_client,
                                                                             staff):
    [reason] = [r for r in matching.likely_matches(
        "Olena", "Kovalenko", matching.date(1987, 3, 14),
        [matching.Candidate("x", "Olena", "Kovalenko", matching.date(1990, 7, 2))],
        threshold=0).pop().reasons if "date" in r]
    assert reason == "different date of birth (1987-03-14 vs 1990-07-02)"
    post(intake_client, staff, COMPLETE)
    asked = {"given_name": "Olena", "family_name": "Kovalenko", "birth_date": "1987-03-15"}
    for lang, said in (("de", "Geburtsdatum einen Tag auseinander"),
                       ("en", "birth date one day apart")):
        [match] = intake_client.get("/api/v1/persons/matches", query_string=asked,
                                    headers={**staff, "Accept-Language": lang}
                                    ).get_json()["items"]
        assert said in match["reasons"], match["reasons"]


def test_a_need_is_on_its_way_only_while_its_consultation_is_fresh():
    from datetime import datetime, timedelta, timezone
    now = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
    fresh = {"id": "a", "recorded_at": now - timedelta(seconds=5), "needs": ("kita_place",),
             "need_details": [{"code": "kita_place"}, {"code": "school_place"}],
             "referrals": [{"need": "kita_place", "status": "accepted"}]}
    old = {**fresh, "id": "b", "recorded_at": now - timedelta(hours=1)}
    assert queries.on_the_way([fresh, old], now) == {"a": ["school_place"]}
    assert queries.settling([old], {}) is False
    assert queries.settling([{**old, "referrals": [{"need": "x", "status": "requested"}]}], {})


def test_facts_recorded_later_are_typed_as_german_dates(intake_client, staff):
    intake_client.application.config["WTF_CSRF_ENABLED"] = False  # the view is under test
    body = copy.deepcopy(COMPLETE)
    body.pop("arrival_date", None)
    intake = post(intake_client, staff, body).get_json()
    answer = intake_client.post(f"/intakes/{intake['id']}/facts",
                                data={"arrival_date": "01.03.2022"}, headers=staff)
    assert answer.status_code == 302
    recorded = intake_client.get(f"/api/v1/intakes/{intake['id']}", headers=staff).get_json()
    assert recorded["arrival_date"] == "2022-03-01"
    wrong = intake_client.post(f"/intakes/{intake['id']}/facts",
                               data={"arrival_date": "31.02.2022"}, headers=staff,
                               follow_redirects=True)
    assert "Angaben nicht nachgetragen: Einreise nach Deutschland: Kein gültiges Datum" in \
        wrong.get_data(as_text=True)
