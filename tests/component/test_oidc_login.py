"""OpenID Connect login against a fake identity provider (discovery, JWKS, /authorize that
redirects back with a code, /token answering an RS256 ID token signed with joserfc)."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

from services.intake.app import create_app as intake_app
from shared.config import OidcSettings

CLIENT_ID, CLIENT_SECRET = "lotse", "client-secret"


class FakeIdentityProvider:
    """A tiny OpenID provider: every login is `user` with `claims` (the test changes them)."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
        self.claims: dict = {"preferred_username": "erika", "realm_access": {
            "roles": ["offline_access", "staff"]}}
        self.codes: dict[str, str] = {}  # code -> nonce of its authorization request
        self.token_requests: list[dict] = []
        self.app = self._app()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/realms/city"

    def id_token(self, nonce: str, **override) -> str:
        now = int(time.time())
        claims = {"iss": self.url, "sub": "user-1", "aud": CLIENT_ID, "iat": now,
                  "exp": now + 300, "nonce": nonce, **self.claims, **override}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)

    def _app(self) -> Flask:
        app, idp = Flask("fake_idp"), self

        @app.get("/realms/city/.well-known/openid-configuration")
        def discovery():
            return jsonify(issuer=idp.url, authorization_endpoint=f"{idp.url}/authorize",
                           token_endpoint=f"{idp.url}/token", jwks_uri=f"{idp.url}/jwks",
                           response_types_supported=["code"],
                           id_token_signing_alg_values_supported=["RS256"])

        @app.get("/realms/city/jwks")
        def jwks():
            return jsonify(KeySet([idp.key]).as_dict(private=False))

        @app.get("/realms/city/authorize")
        def authorize():
            code = f"code-{len(idp.codes)}"
            idp.codes[code] = request.args["nonce"]
            return redirect(f"{request.args['redirect_uri']}?code={code}"
                            f"&state={request.args['state']}")

        @app.post("/realms/city/token")
        def token():
            idp.token_requests.append(request.form.to_dict())
            nonce = idp.codes.pop(request.form["code"], None)
            if nonce is None or request.authorization is None \
                    or request.authorization.password != CLIENT_SECRET:
                return jsonify(error="invalid_grant"), 400
            return jsonify(access_token="at-1", token_type="Bearer", expires_in=300,
                           id_token=idp.id_token(idp.nonce_override or nonce,
                                                 **idp.token_override))

        self.nonce_override: str | None = None
        self.token_override: dict = {}
        return app


@pytest.fixture(scope="module")
def idp():
    provider = FakeIdentityProvider()
    thread = threading.Thread(target=provider.server.serve_forever, daemon=True)
    thread.start()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


@pytest.fixture
def provider(idp):
    """The module's provider, reset to a staff user with valid tokens."""
    idp.claims = {"preferred_username": "erika",
                  "realm_access": {"roles": ["offline_access", "staff"]}}
    idp.nonce_override, idp.token_override = None, {}
    return idp


@pytest.fixture
def client(settings, intake_deps, provider):
    oidc = OidcSettings(provider.url, CLIENT_ID, CLIENT_SECRET, name="Stadt-Login")
    app = intake_app(replace(settings.for_service("intake"), oidc=oidc), intake_deps)
    return app.test_client()


def sign_in(client, *, tamper_state: bool = False):
    """The browser's way: Lotse -> provider's /authorize -> back to Lotse's callback."""
    start = client.get("/login/oidc?next=/persons")
    assert start.status_code == 302
    to_provider = start.headers["Location"]
    assert "code_challenge=" in to_provider and "nonce=" in to_provider
    back = requests.get(to_provider, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlsplit(back.headers["Location"])
    query = parse_qs(callback.query)
    if tamper_state:
        query["state"] = ["forged-state"]
    return client.get(callback.path, query_string={k: v[0] for k, v in query.items()})


def logged_in_as(client) -> str | None:
    with client.session_transaction() as session:
        return (session.get("principal") or {}).get("username")


def test_the_login_page_offers_the_provider_only_when_configured(client, intake_client):
    assert "Stadt-Login" in client.get("/login", headers={"Accept-Language": "en"}
                                       ).get_data(as_text=True)
    page = intake_client.get("/login").get_data(as_text=True)
    assert "oidc-login" not in page and "/login/oidc" not in page
    assert intake_client.get("/login/oidc").status_code == 404


def test_a_provider_login_maps_the_role_and_starts_the_usual_session(client, provider):
    answer = sign_in(client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/persons"
    with client.session_transaction() as session:
        assert session["principal"] == {"username": "erika", "role": "staff", "partner": None}
        assert session["credential"]["jti"]  # revocable like a password login's session
    assert client.get("/intakes").status_code == 200
    assert provider.token_requests[-1]["code_verifier"]  # PKCE


def test_a_partner_user_gets_the_partner_of_the_partner_claim(client, provider):
    provider.claims = {"preferred_username": "w.user", "lotse_partner": "welfare",
                       "realm_access": {"roles": ["partner"]}}
    assert sign_in(client).status_code == 302
    with client.session_transaction() as session:
        assert session["principal"] == {"username": "w.user", "role": "partner",
                                        "partner": "welfare"}


@pytest.mark.parametrize("claims", [
    {"preferred_username": "erika", "realm_access": {"roles": ["offline_access"]}},
    {"preferred_username": "erika"},
    {"preferred_username": "erika", "realm_access": {"roles": ["staff", "admin"]}},
    {"preferred_username": "w.user", "realm_access": {"roles": ["partner"]}},
    {"preferred_username": "w.user", "lotse_partner": "nobody",
     "realm_access": {"roles": ["partner"]}},
], ids=["no-lotse-role", "no-role-claim", "two-roles", "partner-without-partner",
        "unknown-partner"])
def test_no_login_without_a_clear_lotse_role(client, provider, claims):
    provider.claims = claims
    answer = sign_in(client)
    assert answer.status_code == 403
    assert "Lotse" in answer.get_data(as_text=True)
    assert logged_in_as(client) is None
    assert client.get("/intakes", headers={"Accept": "text/html"}).status_code == 302


@pytest.mark.parametrize("override", [
    {"aud": "another-client"},
    {"aud": "another-client", "azp": CLIENT_ID},
    {"iss": "http://127.0.0.1:1/realms/evil"},
    {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
], ids=["wrong-audience", "wrong-audience-with-azp", "wrong-issuer", "expired"])
def test_an_id_token_that_is_not_for_us_or_too_old_is_refused(client, provider, override):
    provider.token_override = override
    answer = sign_in(client)
    assert answer.status_code == 401
    assert logged_in_as(client) is None


def test_a_wrong_nonce_is_refused(client, provider):
    provider.nonce_override = "a-nonce-of-another-login"
    assert sign_in(client).status_code == 401
    assert logged_in_as(client) is None


def test_a_wrong_state_is_refused(client, provider):
    assert sign_in(client, tamper_state=True).status_code == 401
    assert logged_in_as(client) is None


def test_an_id_token_signed_with_another_key_is_refused(client, provider):
    real = provider.key
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    try:
        # Lotse holds the provider's real JWKS: a token signed by a key it does not hold
        # (same key id) must not pass
        provider_jwks = KeySet([real]).as_dict(private=False)
        client.application.extensions["lotse_oidc"][1].server_metadata["jwks"] = provider_jwks
        assert sign_in(client).status_code == 401
        assert logged_in_as(client) is None
    finally:
        provider.key = real


def test_a_user_name_longer_than_lotse_records_is_refused_clearly(client, provider):
    """Token revocations record at most 60 characters: a longer name would fail at logout."""
    provider.claims = {**provider.claims, "preferred_username": "e" * 61}
    answer = sign_in(client)
    assert answer.status_code == 403
    assert "60" in answer.get_data(as_text=True)
    assert logged_in_as(client) is None

    provider.claims = {**provider.claims, "preferred_username": "e" * 60}
    assert sign_in(client).status_code == 302
    assert logged_in_as(client) == "e" * 60
