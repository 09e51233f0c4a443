"""CSRF on cookie-authenticated API writes: a page of another site could make the browser
send the session cookie with a POST to the API; such a write needs the page's CSRF token in
the X-CSRFToken header. Bearer-token requests and reads are unaffected."""
from __future__ import annotations

import re

import pytest

from services.intake.app import create_app as intake_app
from services.ops.app import create_app as ops_app
from services.ops.bootstrap import bootstrap as ops_bootstrap
from tests.component.conftest import migrated, token


@pytest.fixture
def staff_browser(intake_client):
    """The intake test client logged in through the login form (a session cookie)."""
    page = intake_client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = intake_client.post("/login", data={"username": "staff", "password": "pw-staff",
                                                "csrf_token": csrf})
    assert answer.status_code == 302
    return intake_client


def page_csrf_token(client, path="/intakes") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


def intake_count(client) -> int:
    return client.get("/api/v1/intakes").get_json()["total"]


def test_a_cookie_authenticated_api_write_without_the_header_is_refused(staff_browser,
                                                                        smoke_intake):
    answer = staff_browser.post("/api/v1/intakes", json=smoke_intake)
    assert answer.status_code == 403
    assert "X-CSRFToken" in answer.get_json()["message"]
    wrong = staff_browser.post("/api/v1/intakes", json=smoke_intake,
                               headers={"X-CSRFToken": "not-the-token"})
    assert wrong.status_code == 403
    assert intake_count(staff_browser) == 0  # reads with the cookie work; nothing recorded


def test_a_cookie_authenticated_api_write_with_the_pages_token_is_accepted(staff_browser,
                                                                           smoke_intake):
    answer = staff_browser.post("/api/v1/intakes", json=smoke_intake,
                                headers={"X-CSRFToken": page_csrf_token(staff_browser)})
    assert answer.status_code == 201, answer.get_json()
    assert intake_count(staff_browser) == 1


def test_bearer_token_writes_need_no_csrf_header(intake_client, smoke_intake):
    auth = token(intake_client, "staff", "pw-staff")
    assert intake_client.post("/api/v1/intakes", json=smoke_intake,
                              headers=auth).status_code == 201


def test_pages_carry_the_csrf_meta_tag_only_for_a_logged_in_user(staff_browser, settings,
                                                                 intake_deps):
    assert page_csrf_token(staff_browser)
    anonymous = intake_app(settings.for_service("intake"), intake_deps).test_client()
    assert 'name="csrf-token"' not in anonymous.get("/login").get_data(as_text=True)


def test_the_ops_consoles_api_refuses_a_cookie_write_without_the_header(staff_browser,
                                                                        settings):
    """The dead-letter actions (replay, discard) of the console's API, with an operator's
    session cookie as a same-site page could send it."""
    from services.intake.accounts import save_account

    ops_deps = migrated("ops", settings, ops_bootstrap)
    console = ops_app(settings.for_service("ops"), ops_deps).test_client()
    with staff_browser.application.extensions["lotse"].session_factory() as s:
        save_account(s, "operator", "pw-operator", "operator")
        s.commit()
    page = staff_browser.get("/logout").get_data(as_text=True)  # asks; the button posts
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert staff_browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    page = staff_browser.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    staff_browser.post("/login", data={"username": "operator", "password": "pw-operator",
                                       "csrf_token": csrf})
    console.set_cookie("lotse_session", staff_browser.get_cookie("lotse_session").value)
    for path in ("/api/v1/ops/dead-letters/1/discard", "/api/v1/ops/dead-letters/1/replay",
                 "/api/v1/ops/replays"):
        answer = console.post(path, json={"note": "x", "ids": [1]})
        assert answer.status_code == 403, path
        assert "CSRF" in answer.get_json()["message"]
    assert console.get("/api/v1/ops/dead-letters").status_code == 200  # reading is fine
    with_token = console.post("/api/v1/ops/dead-letters/1/discard", json={"note": "x"},
                              headers={"X-CSRFToken": page_csrf_token(console, "/ops")})
    assert with_token.status_code not in (401, 403)  # past the guards (no such letter here)
    ops_deps.engine.dispose()
