"""The course finder and the provider portal in the UI's words: German, no codes, errors at
their field; a place request from the finder; a provider keeps only its own courses."""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from services.referral import courses_store, tables
from services.referral.app import create_app
from services.referral.consumers import SUBSCRIPTIONS
from shared.auth import Principal, issue_token
from shared.bus.delivery import deliver
from tests.component.test_referral_consents import intake_v2
from tests.component.test_referral_pages import page
from tests.e2e.pages import problems

OPEN = SUBSCRIPTIONS[0]
FORM = {"title": "Integrationskurs A2 nachmittags", "kind": "integration", "level": "A2",
        "schedule": "Mo–Fr 13:00–16:15", "district": "brackel", "address": "",
        "funding": "bamf_integration", "starts_on": "2027-02-01", "places": "18",
        "free_places": "18", "childcare": "no"}


@pytest.fixture
def client(settings, referral_deps):
    referral_deps.clock = lambda: datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
    courses_store.seed_demo(referral_deps.uow(), referral_deps.clock().date())
    app = create_app(settings.for_service("referral"), referral_deps)
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF is tested elsewhere
    return app.test_client()


def who(settings, username, role, partner=None) -> dict:
    return {"Authorization": "Bearer " + issue_token(settings.secret_key,
                                                     Principal(username, role, partner)),
            "Accept-Language": "de"}


def text(response) -> str:
    return response.get_data(as_text=True)


def test_the_finder_shows_courses_and_matches_in_words(client, settings):
    staff = who(settings, "sam", "staff")
    for url in ("/courses", "/courses?level=A1&with_free_places=true",
                "/courses?match=1&level=A1&residence_status=EU_FREE_MOVEMENT&district=eving"
                "&childcare=true"):
        shown = page(client, url, staff)
        assert shown.status == 200, url
        assert not problems(shown), (url, problems(shown))
    body = text(client.get("/courses?match=1&level=A1&residence_status=REFUGEE_RECOGNISED"
                           "&district=eving&childcare=true", headers=staff))
    assert "Frauenkurs A1 mit Kinderbetreuung" in body and "kann teilnehmen" in body
    assert "§ 44 Abs. 1 AufenthG" in body and "im Stadtbezirk der Person" in body
    assert "Platz anfragen" in body
    eu = text(client.get("/courses?match=1&level=A1&residence_status=EU_FREE_MOVEMENT",
                         headers=staff))
    assert "nur als Selbstzahler/in" in eu and "Trägerrundschreiben 02/26" in eu


def test_a_bad_match_wish_is_shown_at_its_field(client, settings):
    body = text(client.get("/courses?match=1&level=Z9", headers=who(settings, "sam",
                                                                       "staff")))
    assert re.search(r'data-field="level">[^<]+', body)


def test_a_place_request_from_the_finder(client, settings, referral_deps):
    staff = who(settings, "sam", "staff")
    course = courses_store.demo_courses(referral_deps.clock().date())[0]
    r = client.post(f"/courses/{course.id}/place-request", headers=staff,
                    data={"intake": "LT-0000-NOPE"})
    assert r.status_code == 422
    assert re.search(r'data-field="intake">Kein Vorgang mit dieser Nummer', text(r))
    deliver(intake_v2([]), OPEN, referral_deps.uow)  # no consent for the course provider
    r = client.post(f"/courses/{course.id}/place-request", headers=staff,
                    data={"intake": "lt-2026-abcdef"})
    assert r.status_code == 422
    assert re.search(r'data-field="course">[^<]*Einwilligung', text(r)), text(r)
    consent = {"consent_id": str(uuid.uuid4()), "partner": "course_provider",
               "method": "digital", "language": "uk", "purpose": "referral",
               "information_version": None}
    envelope = intake_v2([consent])
    deliver(envelope, OPEN, referral_deps.uow)
    intake_id = json.loads(envelope)["data"]["intake_id"]
    r = client.post(f"/courses/{course.id}/place-request", headers=staff,
                    data={"intake": intake_id, "note": "vormittags"})
    assert r.status_code == 302 and "/referrals/" in r.headers["Location"]
    detail = page(client, r.headers["Location"], staff)
    assert detail.status == 200 and not problems(detail), problems(detail)
    assert any("Platz angefragt im Kurs" in t for t in detail.texts)
    with referral_deps.session_factory() as s:
        [row] = s.execute(select(tables.referrals).where(
            tables.referrals.c.course_id == course.id)).all()
    assert row.partner == "course_provider" and row.need == "language_course"
    # the provider sees the request at its course: the intake's reference, not the person
    vhs = who(settings, "vhs", "partner", "course_provider")
    portal = page(client, "/partner/courses", vhs)
    assert portal.status == 200 and not problems(portal), problems(portal)
    body = text(client.get("/partner/courses", headers=vhs))
    assert "LT-2026-ABCDEF" in body and "Olena" not in body


def test_the_provider_keeps_its_courses_in_the_portal(client, settings, referral_deps):
    vhs = who(settings, "vhs", "partner", "course_provider")
    shown = page(client, "/partner/courses", vhs)
    assert shown.status == 200 and not problems(shown), problems(shown)
    r = client.post("/partner/courses", headers=vhs, data={**FORM, "places": "0",
                                                           "free_places": "30"})
    assert r.status_code == 422
    assert re.search(r'data-field="places">[^<]+', text(r))
    r = client.post("/partner/courses", headers=vhs, data=FORM)
    assert r.status_code == 302
    with referral_deps.session_factory() as s:
        [added] = [c for c in courses_store.all_courses(s) if c.title == FORM["title"]]
    shown = page(client, f"/partner/courses/{added.id}/edit", vhs)
    assert shown.status == 200 and not problems(shown), problems(shown)
    r = client.post(f"/partner/courses/{added.id}/edit", headers=vhs,
                    data={**FORM, "free_places": "19"})
    assert r.status_code == 422 and 'data-field="free_places"' in text(r)
    r = client.post(f"/partner/courses/{added.id}/edit", headers=vhs,
                    data={**FORM, "free_places": "3"})
    assert r.status_code == 302
    assert client.post(f"/partner/courses/{added.id}/close", headers=vhs).status_code == 302
    with referral_deps.session_factory() as s:
        closed = courses_store.get(s, added.id)
    assert (closed.free_places, str(closed.status)) == (3, "closed")


def test_another_partner_keeps_no_courses(client, settings, referral_deps):
    welfare = who(settings, "ines", "partner", "welfare")
    shown = page(client, "/partner/courses", welfare)
    assert shown.status == 200 and not problems(shown)
    assert "keine Sprachkurse" in text(client.get("/partner/courses", headers=welfare))
    course = courses_store.demo_courses(referral_deps.clock().date())[0]
    assert client.get(f"/partner/courses/{course.id}/edit", headers=welfare).status_code \
        == 403
    assert client.post(f"/partner/courses/{course.id}/close", headers=welfare).status_code \
        == 403
    assert client.post("/partner/courses", headers=welfare, data=FORM).status_code == 403


def test_a_place_request_refused_keeps_the_matches_and_says_why_above(client, settings,
                                                                      referral_deps):
    """Asked from the matches for a course that is full meanwhile (not listed with a form
    any more): the matches come back as they were, and the reason stands above them."""
    staff = who(settings, "sam", "staff")
    full = next(c for c in courses_store.demo_courses(referral_deps.clock().date())
                if not c.free_places)
    r = client.post(f"/courses/{full.id}/place-request?match=1&level={full.level.value}",
                    headers=staff, data={"intake": "LT-2026-ABCDEF"})
    assert r.status_code == 422
    body = text(r)
    assert "Der Platz konnte nicht angefragt werden" in body
    assert re.search(r'<option value="%s" selected' % full.level.value, body), body
