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
from services.intake.login_throttle import DEFAULT_POLICY, ThrottlePolicy
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


STRANGER, ADMIN_DESK, OTHER = "203.0.113.66", "198.51.100.7", "192.0.2.44"


def login_from(client, address, username="staff", password="pw-staff", **headers):
    """The token API, called from `address` (the peer of the connection)."""
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def form_login_from(client, address, username, password):
    form = {"username": username, "password": password, "csrf_token": csrf_of(client)}
    return client.post("/login", data=form, environ_base={"REMOTE_ADDR": address},
                       headers={"Accept-Language": "en"})


@pytest.fixture
def clock(intake_deps, monkeypatch):
    """The intake service's clock, moved by hand: clock.now += timedelta(...)."""
    class Clock:
        now = intake_deps.clock()
    monkeypatch.setattr(intake_deps, "clock", lambda: Clock.now)
    return Clock


@pytest.fixture
def admin_account(intake_deps):
    with intake_deps.session_factory() as s:
        accounts.save_account(s, "admin", "pw-admin", "admin")
        s.commit()


def test_a_stranger_cannot_lock_an_account_out_of_other_addresses(intake_client, admin_account,
                                                                  clock):
    free = DEFAULT_POLICY.free_failures
    for _ in range(free):
        assert login_from(intake_client, STRANGER, "admin", "guess").status_code == 401
    waiting = login_from(intake_client, STRANGER, "admin", "pw-admin")  # even the right one
    assert waiting.status_code == 429 and "too many failed logins" in waiting.get_json()["message"]
    assert int(waiting.headers["Retry-After"]) == DEFAULT_POLICY.first_delay.total_seconds()
    # a forged X-Forwarded-For does not make the stranger someone else
    forged = login_from(intake_client, STRANGER, "admin", "guess", **{"X-Forwarded-For": OTHER})
    assert forged.status_code == 429
    assert form_login_from(intake_client, STRANGER, "admin", "pw-admin").status_code == 429
    # the admin at their own desk is not locked out, by the API or the form
    assert login_from(intake_client, ADMIN_DESK, "admin", "pw-admin").status_code == 200
    assert form_login_from(intake_client, ADMIN_DESK, "admin", "pw-admin").status_code == 302


def test_behind_a_trusted_proxy_the_forwarded_client_counts(intake_client, admin_account, clock):
    """The gateway (on this machine, trusted by default) appends the client's address."""
    for _ in range(DEFAULT_POLICY.free_failures):
        login_from(intake_client, "127.0.0.1", "admin", "guess",
                   **{"X-Forwarded-For": f"{OTHER}, {STRANGER}"})
    assert login_from(intake_client, "127.0.0.1", "admin", "pw-admin",
                      **{"X-Forwarded-For": STRANGER}).status_code == 429
    assert login_from(intake_client, "127.0.0.1", "admin", "pw-admin",
                      **{"X-Forwarded-For": ADMIN_DESK}).status_code == 200


def test_delays_double_up_to_a_cap_and_a_good_login_ends_them(intake_client, clock):
    for _ in range(DEFAULT_POLICY.free_failures):
        login_from(intake_client, STRANGER, password="guess")
    waits = []
    for _ in range(7):
        wait = int(login_from(intake_client, STRANGER).headers["Retry-After"])
        waits.append(wait)
        clock.now += timedelta(seconds=wait)
        assert login_from(intake_client, STRANGER, password="guess").status_code == 401
    assert waits == [30, 60, 120, 240, 480, 900, 900]
    clock.now += DEFAULT_POLICY.max_delay
    assert login_from(intake_client, STRANGER).status_code == 200
    assert login_from(intake_client, STRANGER, password="guess").status_code == 401  # free again


def comparable(answer) -> tuple:
    varying = {"X-Correlation-ID", "Content-Security-Policy"}  # fresh ids and nonces
    return (answer.status_code, answer.get_data(),
            sorted((k, v) for k, v in answer.headers.items() if k not in varying))


def test_unknown_and_known_users_get_the_same_answers_for_the_same_work(intake_client, clock,
                                                                        monkeypatch):
    checks = []
    monkeypatch.setattr(accounts, "password_matches",
                        lambda stored, given: checks.append(stored) or False)
    seen = {}
    for name in ("staff", "nobody"):
        seen[name] = [comparable(login_from(intake_client, STRANGER, name, "guess"))
                      for _ in range(DEFAULT_POLICY.free_failures + 2)]
    assert seen["staff"] == seen["nobody"]
    assert [status for status, _, _ in seen["staff"]][-3:] == [401, 429, 429]
    # one password check per attempt the throttle let through, for the name known or not
    assert len(checks) == 2 * DEFAULT_POLICY.free_failures
    assert sum(stored is None for stored in checks) == DEFAULT_POLICY.free_failures


def test_beyond_the_global_limit_only_known_desks_may_log_in(intake_client, clock):
    intake_client.application.config["LOTSE_LOGIN_THROTTLE"] = ThrottlePolicy(global_failures=3)
    assert login_from(intake_client, ADMIN_DESK).status_code == 200  # staff's usual desk
    for n in range(3):  # spraying: other names, other addresses
        login_from(intake_client, f"203.0.113.{n}", f"user{n}", "Summer2024")
    for name, password in (("staff", "pw-staff"), ("nobody", "x")):
        refused = login_from(intake_client, OTHER, name, password)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert login_from(intake_client, ADMIN_DESK).status_code == 200
    clock.now += timedelta(seconds=61)
    assert login_from(intake_client, OTHER).status_code == 200


def test_admins_see_who_is_throttled_until_when(intake_client, admin_account, clock):
    for _ in range(DEFAULT_POLICY.free_failures):
        login_from(intake_client, STRANGER, "admin", "guess")
    admin = {"Authorization": "Bearer " + login_from(
        intake_client, ADMIN_DESK, "admin", "pw-admin").get_json()["access_token"]}
    staff = {"Authorization": "Bearer " + login_from(
        intake_client, ADMIN_DESK).get_json()["access_token"]}
    assert intake_client.get("/api/v1/auth/throttling", headers=staff).status_code == 403
    record = intake_client.get("/api/v1/auth/throttling", headers=admin).get_json()
    until = (clock.now + DEFAULT_POLICY.first_delay).isoformat()
    assert record["throttles"] == [{"username": "admin", "client": STRANGER,
                                    "failures": DEFAULT_POLICY.free_failures,
                                    "last_failure_at": clock.now.isoformat(), "until": until}]
    assert [(f["username"], f["client"]) for f in record["recent_failures"]] == \
        [("admin", STRANGER)] * DEFAULT_POLICY.free_failures
    assert record["global"] == {"failures_in_window": DEFAULT_POLICY.free_failures,
                                "limited": False}


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


def test_the_gateway_adds_the_caller_after_whatever_it_claimed():
    from werkzeug.test import Client

    from services.gateway import Gateway
    from shared.config import DEFAULT_PORTS

    sent = {}

    class Upstream:
        status_code, content = 200, b"{}"
        raw = type("Raw", (), {"headers": {}})()

    gateway = Gateway({svc: "http://127.0.0.1:9" for svc in DEFAULT_PORTS})
    gateway.http.request = lambda method, url, headers, **_: sent.update(headers) or Upstream()
    Client(gateway).post("/api/v1/auth/token", headers={"X-Forwarded-For": OTHER},
                         environ_base={"REMOTE_ADDR": STRANGER})
    assert sent["X-Forwarded-For"] == f"{OTHER}, {STRANGER}"
