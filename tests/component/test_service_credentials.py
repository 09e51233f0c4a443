"""Service-to-service credentials: signed with a secret of their own, naming the calling
service, accepted on /internal/ routes only, where user tokens and sessions are refused."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.test import Client

from services.gateway import Gateway
from services.intake import token_revocations
from services.intake.accounts import save_account
from services.referral.app import create_app as referral_app
from shared.auth import Credential, Principal, issue_service_token, issue_token
from shared.clock import utcnow
from shared.config import Settings
from tests.component.conftest import token

FEED = "/internal/v1/token-revocations"


def service(settings, name="referral", **kwargs) -> dict:
    return {"Authorization": "Bearer " + issue_service_token(settings.service_secret, name,
                                                             **kwargs)}


def test_the_feed_answers_a_service_credential(intake_client, intake_deps, settings):
    now = utcnow()
    with intake_deps.session_factory() as s:
        token_revocations.revoke_user(s, "staff", "admin", now, 3600)
        s.commit()
    answer = intake_client.get(FEED, headers=service(settings))
    assert answer.status_code == 200
    assert [(i["jti"], i["username"]) for i in answer.get_json()["items"]] == [(None, "staff")]


def test_the_feed_refuses_users_sessions_and_foreign_or_stale_credentials(intake_client,
                                                                          intake_deps,
                                                                          settings):
    with intake_deps.session_factory() as s:
        save_account(s, "admin", "pw-admin", "admin")
        s.commit()
    assert intake_client.get(FEED).status_code == 401
    for user in (("staff", "pw-staff"), ("admin", "pw-admin")):
        assert intake_client.get(FEED, headers=token(intake_client, *user)).status_code == 401
    signed_with_user_secret = issue_service_token(settings.secret_key, "referral")
    assert intake_client.get(FEED, headers={
        "Authorization": f"Bearer {signed_with_user_secret}"}).status_code == 401
    stale = service(settings, now=utcnow() - timedelta(minutes=5))
    assert intake_client.get(FEED, headers=stale).status_code == 401
    # an admin's browser session is no key to the internal routes either
    page = intake_client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    intake_client.post("/login", data={"username": "admin", "password": "pw-admin",
                                       "csrf_token": csrf})
    assert intake_client.get("/intakes").status_code == 200
    assert intake_client.get(FEED).status_code == 401


def test_service_credentials_are_refused_on_user_routes(intake_client, settings,
                                                        referral_deps):
    referral = referral_app(settings.for_service("referral"), referral_deps).test_client()
    for client, path in ((intake_client, "/api/v1/intakes"), (intake_client, "/intakes"),
                         (referral, "/api/v1/referrals"), (referral, "/work-queue")):
        answer = client.get(path, headers={**service(settings, "ops"),
                                           "Accept": "application/json"})
        assert answer.status_code == 401, path
        assert "/internal/" in answer.get_json()["message"]


def test_the_feed_gives_unexpired_revocations_since_a_time(intake_client, intake_deps,
                                                           settings):
    t0 = utcnow() - timedelta(minutes=10)
    with intake_deps.session_factory() as s:
        gone = Credential(Principal("a", "staff"), "gone", (t0 - timedelta(hours=9)).timestamp(),
                          (t0 - timedelta(hours=1)).timestamp())
        early = Credential(Principal("b", "staff"), "early", t0.timestamp(),
                           (t0 + timedelta(hours=8)).timestamp())
        token_revocations.revoke_credential(s, gone, "a", t0 - timedelta(hours=2))
        token_revocations.revoke_credential(s, early, "b", t0)
        token_revocations.revoke_jti(s, "late", "admin", t0 + timedelta(minutes=5), 3600)
        s.commit()
    every = intake_client.get(FEED, headers=service(settings)).get_json()["items"]
    assert [i["jti"] for i in every] == ["early", "late"]
    since = (t0 + timedelta(minutes=1)).isoformat()
    newer = intake_client.get(FEED, query_string={"since": since},
                              headers=service(settings)).get_json()["items"]
    assert [i["jti"] for i in newer] == ["late"]
    assert intake_client.get(FEED, query_string={"since": "yesterday"},
                             headers=service(settings)).status_code == 400


def test_the_service_secret_is_its_own(tmp_path):
    env = {"LOTSE_DATA_DIR": str(tmp_path)}
    generated = Settings.from_env("intake", env)
    assert generated.service_secret and generated.service_secret != generated.secret_key
    assert (tmp_path / "service_secret").read_text().strip() == generated.service_secret
    assert Settings.from_env("referral", env).service_secret == generated.service_secret
    assert Settings.from_env("intake", {**env, "LOTSE_SERVICE_SECRET": "s-1"}
                             ).service_secret == "s-1"
    (tmp_path / "from-file").write_text("s-2\n")
    assert Settings.from_env("intake", {**env, "LOTSE_SERVICE_SECRET_FILE":
                                        str(tmp_path / "from-file")}).service_secret == "s-2"
    with pytest.raises(ValueError, match="must differ"):
        Settings.from_env("intake", {**env, "LOTSE_SECRET_KEY": "same",
                                     "LOTSE_SERVICE_SECRET": "same"})


def test_a_user_token_signed_with_the_service_secret_is_no_user_token(intake_client,
                                                                       settings):
    forged = issue_token(settings.service_secret, Principal("admin", "admin"))
    assert intake_client.get("/api/v1/intakes", headers={
        "Authorization": f"Bearer {forged}"}).status_code == 401


def test_the_gateway_does_not_expose_internal_routes():
    gateway = Gateway({svc: "http://127.0.0.1:9" for svc in
                       ("intake", "referral", "partner_adapter", "partner_sandbox", "ops")})
    answer = Client(gateway).get(FEED)
    assert answer.status_code == 404


def test_service_credentials_name_the_caller_and_expire():
    from shared.auth import read_service_token

    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    credential = issue_service_token("svc-secret", "ops", now=now)
    assert read_service_token("svc-secret", credential, now + timedelta(seconds=59)) == "ops"
    assert read_service_token("svc-secret", credential, now + timedelta(seconds=60)) is None
    assert read_service_token("other", credential, now) is None
    with pytest.raises(ValueError):
        issue_service_token("", "ops")
