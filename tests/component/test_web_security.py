"""Logging in safely and serving pages safely: Argon2 hashes, lockout after wrong passwords,
CSRF on forms, security headers with a per-response script nonce, a request size limit."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from services.intake import accounts
from services.intake.app import create_app as intake_app
from services.intake.tables import accounts as account_rows
from shared.auth import hash_password, needs_rehash, password_matches


def token(client, username="staff", password="pw-staff"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password})


def stored_hash(deps, username="staff") -> str:
    with deps.session_factory() as s:
        return s.execute(select(account_rows.c.password_hash)
                         .where(account_rows.c.username == username)).scalar_one()


def test_passwords_are_hashed_with_argon2id_and_old_hashes_are_replaced_at_login(
        intake_client, intake_deps):
    assert stored_hash(intake_deps).startswith("$argon2id$")
    assert password_matches(hash_password("s3cret"), "s3cret")
    assert not password_matches(hash_password("s3cret"), "S3cret")
    legacy = generate_password_hash("pw-staff")  # werkzeug scrypt, as before Argon2
    with intake_deps.session_factory() as s:
        s.execute(account_rows.update().where(account_rows.c.username == "staff")
                  .values(password_hash=legacy))
        s.commit()
    assert needs_rehash(legacy)
    assert token(intake_client).status_code == 200
    assert stored_hash(intake_deps).startswith("$argon2id$")
    assert token(intake_client).status_code == 200


def test_five_wrong_passwords_lock_the_account_for_a_while(intake_client, intake_deps,
                                                           monkeypatch):
    for _ in range(accounts.LOCK_AFTER - 1):
        assert token(intake_client, password="wrong").status_code == 401
    assert token(intake_client).status_code == 200  # a good login resets the count
    for _ in range(accounts.LOCK_AFTER):
        assert token(intake_client, password="wrong").status_code == 401
    locked = token(intake_client)  # even the right password now
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= accounts.LOCK_FOR.total_seconds()
    assert "locked" in locked.get_json()["message"]
    # the UI form says so too
    page = intake_client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    form = {"username": "staff", "password": "pw-staff", "csrf_token": csrf.group(1)}
    answer = intake_client.post("/login", data=form, headers={"Accept-Language": "en"})
    assert answer.status_code == 429 and "locked" in answer.get_data(as_text=True)

    later = intake_deps.clock() + accounts.LOCK_FOR + timedelta(seconds=1)
    monkeypatch.setattr(intake_deps, "clock", lambda: later)
    assert token(intake_client).status_code == 200
    # unknown users are never "locked" (that would tell which names exist)
    for _ in range(accounts.LOCK_AFTER + 1):
        assert token(intake_client, "nobody", "x").status_code == 401


def test_forms_without_the_csrf_token_are_refused(intake_client):
    answer = intake_client.post("/login", data={"username": "staff", "password": "pw-staff"})
    assert answer.status_code == 400
    assert "lotse_session" not in (answer.headers.get("Set-Cookie") or "")


def test_pages_carry_the_security_headers_and_a_fresh_script_nonce(intake_client):
    first, second = intake_client.get("/login"), intake_client.get("/login")
    csp = first.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "'unsafe-inline'" not in csp.split("; ")[1]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert nonce != re.search(r"'nonce-([^']+)'", second.headers["Content-Security-Policy"]
                              ).group(1)
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["X-Frame-Options"] == "DENY"
    assert first.headers["Referrer-Policy"] == "same-origin"
    assert first.headers["Cache-Control"] == "no-store"
    cookie = first.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_every_inline_script_carries_the_nonce(intake_client):
    staff = token(intake_client).get_json()["access_token"]
    page = intake_client.get("/intakes/new", headers={"Authorization": f"Bearer {staff}"})
    html = page.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all(f'nonce="{nonce}"' in attrs for attrs in scripts)
    assert not re.search(r"\son[a-z]+=\"", html)  # no inline event handlers


def test_over_large_requests_are_refused_with_413(settings, intake_deps):
    from dataclasses import replace

    app = intake_app(replace(settings.for_service("intake"), max_request_bytes=2048),
                     intake_deps)
    client = app.test_client()
    answer = client.post("/api/v1/auth/token", data="x" * 5000,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.get_json()["code"] == 413


@pytest.mark.parametrize("path", ["/api/v1/docs"])
def test_only_the_swagger_page_may_run_inline_scripts(intake_client, path):
    staff = token(intake_client).get_json()["access_token"]
    answer = intake_client.get(path, headers={"Authorization": f"Bearer {staff}"})
    assert "script-src 'self' 'unsafe-inline'" in answer.headers["Content-Security-Policy"]


def csrf_of(client, path="/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_logout_is_a_post_with_the_csrf_token_and_a_get_only_asks(intake_client):
    """A link or an image on another site (GET /logout) must not log a user out."""
    intake_client.post("/login", data={"username": "staff", "password": "pw-staff",
                                       "csrf_token": csrf_of(intake_client)})
    asked = intake_client.get("/logout", headers={"Accept-Language": "en"})
    assert asked.status_code == 200 and 'method="post"' in asked.get_data(as_text=True)
    assert intake_client.get("/intakes").status_code == 200  # still logged in
    assert intake_client.post("/logout").status_code == 400  # no CSRF token: refused
    assert intake_client.get("/intakes").status_code == 200
    page = intake_client.get("/intakes").get_data(as_text=True)
    assert re.search(r'<form[^>]+method="post"[^>]+action="[^"]*/logout"', page)
    done = intake_client.post("/logout", data={"csrf_token": csrf_of(intake_client, "/intakes")})
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    answer = intake_client.get("/intakes", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
