"""API tokens and sessions expire and can be revoked: intake refuses a revoked one at once,
the other services after their next refresh of the revocation list (over HTTP with a service
credential when distributed, straight from intake's table when embedded)."""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from services.intake.accounts import save_account
from services.intake.app import create_app as intake_app
from services.ops.app import create_app as ops_app
from services.ops.bootstrap import bootstrap as ops_bootstrap
from services.partner_adapter.app import create_app as adapter_app
from services.referral.app import create_app as referral_app
from shared.auth import Credential, Principal, issue_token
from shared.revocations import Revocation, RevocationList
from tests.component.conftest import migrated

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # the injected clock's start
# one route per service that an admin may read (admin passes every role check)
READ = {"referral": "/api/v1/referrals", "partner_adapter": "/api/v1/partner-cases",
        "ops": "/api/v1/ops/dead-letters"}


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(intake_deps, monkeypatch):
    c = Clock()
    monkeypatch.setattr(intake_deps, "clock", c)
    return c


@pytest.fixture
def intake(settings, intake_deps, clock):
    """The intake app with a staff user and an admin, on the injected clock."""
    with intake_deps.session_factory() as s:
        save_account(s, "staff", "pw-staff", "staff")
        save_account(s, "admin", "pw-admin", "admin")
        s.commit()
    return intake_app(settings.for_service("intake"), intake_deps).test_client()


def login(client, username="staff", password=None) -> tuple[dict, str]:
    """(Authorization header, jti) of a fresh token."""
    r = client.post("/api/v1/auth/token",
                    json={"username": username, "password": password or f"pw-{username}"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    return {"Authorization": f"Bearer {body['access_token']}"}, body["jti"]


def test_a_token_works_until_its_lifetime_is_over_then_401(intake, clock):
    auth, _ = login(intake)
    clock.now = T0 + timedelta(hours=8) - timedelta(seconds=1)
    assert intake.get("/api/v1/intakes", headers=auth).status_code == 200
    clock.now = T0 + timedelta(hours=8)
    answer = intake.get("/api/v1/intakes", headers=auth)
    assert answer.status_code == 401
    assert "expired" in answer.get_json()["message"]


def test_the_token_lifetime_is_configurable(settings, intake_deps, clock):
    with intake_deps.session_factory() as s:
        save_account(s, "staff", "pw-staff", "staff")
        s.commit()
    client = intake_app(replace(settings.for_service("intake"), token_ttl_seconds=600),
                        intake_deps).test_client()
    r = client.post("/api/v1/auth/token", json={"username": "staff", "password": "pw-staff"})
    assert r.get_json()["expires_in"] == 600
    auth = {"Authorization": "Bearer " + r.get_json()["access_token"]}
    clock.now = T0 + timedelta(seconds=599)
    assert client.get("/api/v1/intakes", headers=auth).status_code == 200
    clock.now = T0 + timedelta(seconds=600)
    assert client.get("/api/v1/intakes", headers=auth).status_code == 401


def test_a_ui_session_expires_like_a_token(intake, clock):
    page = intake.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    intake.post("/login", data={"username": "staff", "password": "pw-staff",
                                "csrf_token": csrf})
    assert intake.get("/intakes").status_code == 200
    clock.now = T0 + timedelta(hours=8, seconds=1)
    answer = intake.get("/intakes", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_a_forged_or_foreign_token_is_refused(intake, settings):
    forged = issue_token("another-secret", Principal("admin", "admin"))
    assert intake.get("/api/v1/intakes",
                      headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_logging_out_revokes_the_token_at_once_and_only_that_one(intake):
    auth, _ = login(intake)
    other, _ = login(intake)
    assert intake.get("/api/v1/intakes", headers=auth).status_code == 200
    assert intake.post("/api/v1/auth/logout", headers=auth).status_code == 204
    refused = intake.get("/api/v1/intakes", headers=auth)
    assert refused.status_code == 401 and "revoked" in refused.get_json()["message"]
    assert intake.get("/api/v1/intakes", headers=other).status_code == 200


def test_logging_out_of_the_ui_revokes_the_session_cookie(intake):
    page = intake.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    intake.post("/login", data={"username": "staff", "password": "pw-staff",
                                "csrf_token": csrf})
    stolen = intake.get_cookie("lotse_session").value
    assert intake.get("/intakes").status_code == 200
    page = intake.get("/intakes").get_data(as_text=True)  # the layout's logout form
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert intake.post("/logout", data={"csrf_token": csrf}).status_code == 302
    intake.set_cookie("lotse_session", stolen)  # a copy of the cookie taken before
    answer = intake.get("/intakes", headers={"Accept": "text/html"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_an_admin_revokes_one_token_by_its_id(intake):
    admin, _ = login(intake, "admin")
    first, first_jti = login(intake)
    second, _ = login(intake)
    answer = intake.post("/api/v1/auth/revocations", json={"jti": first_jti}, headers=admin)
    assert answer.status_code == 201 and answer.get_json()["jti"] == first_jti
    assert intake.get("/api/v1/intakes", headers=first).status_code == 401
    assert intake.get("/api/v1/intakes", headers=second).status_code == 200


def test_an_admin_revokes_every_token_of_a_user_and_new_logins_work(intake, clock):
    admin, _ = login(intake, "admin")
    first, _ = login(intake)
    clock.now += timedelta(minutes=5)
    second, _ = login(intake)
    answer = intake.post("/api/v1/auth/revocations", json={"username": "staff"},
                         headers=admin)
    assert answer.status_code == 201
    assert intake.get("/api/v1/intakes", headers=first).status_code == 401
    assert intake.get("/api/v1/intakes", headers=second).status_code == 401
    assert intake.get("/api/v1/intakes", headers=admin).status_code == 200  # not the admin's
    clock.now += timedelta(seconds=1)
    after, _ = login(intake)
    assert intake.get("/api/v1/intakes", headers=after).status_code == 200


def test_intakes_other_processes_refuse_a_revocation_after_their_next_refresh(
        settings, intake_deps, intake, clock, monkeypatch):
    """Two intake apps on one database stand for two gunicorn workers: the one that records
    a revocation refuses it at once, the other after its next refresh (every second; here
    the test drives it)."""
    from services.intake import token_revocations

    monkeypatch.setattr(token_revocations, "OWN_REFRESH_SECONDS", 3600)
    other = intake_app(settings.for_service("intake"), intake_deps)
    auth, _ = login(intake)
    assert other.test_client().get("/api/v1/intakes", headers=auth).status_code == 200
    assert intake.post("/api/v1/auth/logout", headers=auth).status_code == 204
    assert intake.get("/api/v1/intakes", headers=auth).status_code == 401
    assert other.test_client().get("/api/v1/intakes", headers=auth).status_code == 200
    assert other.extensions["lotse_revocations"].refresh(clock()) is True
    assert other.test_client().get("/api/v1/intakes", headers=auth).status_code == 401


def test_only_admins_revoke_others_tokens_and_name_one_thing(intake):
    staff, jti = login(intake)
    admin, _ = login(intake, "admin")
    assert intake.post("/api/v1/auth/revocations", json={"username": "admin"},
                       headers=staff).status_code == 403
    assert intake.post("/api/v1/auth/revocations", json={"jti": jti, "username": "staff"},
                       headers=admin).status_code == 422
    assert intake.post("/api/v1/auth/revocations", json={}, headers=admin).status_code == 422
    assert intake.get("/api/v1/intakes", headers=staff).status_code == 200


@pytest.fixture
def served_intake(settings, intake_deps):
    """The intake app on a free port, as the other services reach it when distributed."""
    with intake_deps.session_factory() as s:
        save_account(s, "admin", "pw-admin", "admin")
        s.commit()
    app = intake_app(settings.for_service("intake"), intake_deps)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.test_client(), f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def other_services(settings, served_intake, referral_deps, adapter_deps):
    """Referral, partner adapter and ops as separate deployments: their revocation lists are
    fed over HTTP from intake; the refresh interval is long so the test drives it."""
    _, intake_url = served_intake
    s = replace(settings, intake_internal_url=intake_url, revocation_refresh_seconds=3600)
    ops_deps = migrated("ops", s, ops_bootstrap)
    apps = {"referral": referral_app(s.for_service("referral"), referral_deps),
            "partner_adapter": adapter_app(s.for_service("partner_adapter"), adapter_deps),
            "ops": ops_app(s.for_service("ops"), ops_deps)}
    yield apps
    ops_deps.engine.dispose()


def test_other_services_refuse_a_revoked_token_after_their_refresh(served_intake,
                                                                   other_services):
    intake, _ = served_intake
    revoked, _ = login(intake, "admin")
    kept, _ = login(intake, "admin")
    clients = {name: app.test_client() for name, app in other_services.items()}
    for name, client in clients.items():  # the first request fills each list (empty yet)
        assert client.get(READ[name], headers=revoked).status_code == 200, name

    assert intake.post("/api/v1/auth/logout", headers=revoked).status_code == 204
    assert intake.get("/api/v1/intakes", headers=revoked).status_code == 401  # at once
    for name, client in clients.items():  # until the refresh, the old list holds
        assert client.get(READ[name], headers=revoked).status_code == 200, name

    for name, app in other_services.items():
        assert app.extensions["lotse_revocations"].refresh() is True, name
    for name, client in clients.items():
        answer = client.get(READ[name], headers=revoked)
        assert answer.status_code == 401, name
        assert "revoked" in answer.get_json()["message"]
        assert client.get(READ[name], headers=kept).status_code == 200, name


def test_the_embedded_network_passes_revocations_to_every_service(tmp_path):
    from services.cli import migrate_all
    from services.embedded import build_network
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path)
    migrate_all(settings)
    network = build_network(settings)
    try:
        apps = network.wsgi.apps
        intake = apps["intake"].test_client()
        with network.deps["intake"].session_factory() as s:
            save_account(s, "admin", "pw-admin", "admin")
            s.commit()
        revoked, _ = login(intake, "admin")
        assert intake.post("/api/v1/auth/logout", headers=revoked).status_code == 204
        for name, path in READ.items():
            assert apps[name].extensions["lotse_revocations"].refresh() is True
            assert apps[name].test_client().get(path, headers=revoked).status_code == 401
        assert isinstance(apps["partner_sandbox"].extensions["lotse_revocations"],
                          RevocationList)
    finally:
        for deps in network.deps.values():
            deps.engine.dispose()


def credential(jti="t1", username="staff", issued=T0) -> Credential:
    return Credential(Principal(username, "staff"), jti, issued.timestamp(),
                      (issued + timedelta(hours=8)).timestamp())


def test_a_service_keeps_its_last_list_while_intake_is_unreachable(caplog):
    revoked = Revocation("t1", "staff", T0, T0 + timedelta(hours=8))
    answers: list = [[revoked], ConnectionError("intake down"), ConnectionError("still down"),
                     []]
    asked: list = []

    def feed(since):
        asked.append(since)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    now = T0 + timedelta(minutes=1)
    revocations = RevocationList(feed, refresh_seconds=3600)
    assert revocations.is_revoked(credential("t1"), now)  # the first check fetches
    with caplog.at_level(logging.INFO, logger="lotse.auth"):
        assert revocations.refresh(now) is False
        assert revocations.refresh(now) is False
        assert revocations.is_revoked(credential("t1"), now)
        assert not revocations.is_revoked(credential("t2"), now)
        assert revocations.refresh(now) is True
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "keeping the last list" in warnings[0].getMessage()
    assert any("available again" in r.getMessage() for r in caplog.records)
    assert revocations.is_revoked(credential("t1"), now)  # an empty answer removes nothing
    assert asked[0] is None and asked[1] == T0 - timedelta(seconds=60)  # since, with overlap


def test_a_users_revocation_covers_what_was_issued_before_it_only():
    cut = Revocation(None, "staff", T0, T0 + timedelta(hours=8))
    revocations = RevocationList(lambda since: [cut], refresh_seconds=3600)
    now = T0 + timedelta(minutes=1)
    assert revocations.is_revoked(credential("a", issued=T0 - timedelta(hours=1)), now)
    assert revocations.is_revoked(credential("b", issued=T0), now)
    assert not revocations.is_revoked(credential("c", issued=T0 + timedelta(seconds=1)), now)
    assert not revocations.is_revoked(credential("d", "admin", T0 - timedelta(hours=1)), now)
    # once everything it covers has expired it is dropped
    assert not revocations.is_revoked(credential("a", issued=T0 - timedelta(hours=1)),
                                      T0 + timedelta(hours=8))


def test_a_token_issued_just_before_a_users_revocation_is_covered_by_it(intake_deps):
    """Issue times keep milliseconds: rounding 09:00:00.9996 up to 09:00:01.000 would let the
    token escape "every token up to 09:00:00.9998"."""
    from services.intake import token_revocations
    from shared.auth import new_credential

    issued = new_credential(Principal("staff", "staff"),
                            now=T0 + timedelta(microseconds=999_600))
    assert issued.issued_at <= (T0 + timedelta(microseconds=999_800)).timestamp()
    cut = Revocation(None, "staff", T0 + timedelta(microseconds=999_800),
                     T0 + timedelta(hours=8))
    assert cut.covers(issued)
    with intake_deps.session_factory() as s:
        token_revocations.revoke_user(s, "staff", "admin", cut.revoked_at, 8 * 3600)
        s.commit()
    later = T0 + timedelta(seconds=2)  # read back from the table: its times keep the digits
    own = token_revocations.own_revocation_list(intake_deps.session_factory, lambda: later)
    assert own.is_revoked(issued, later)
