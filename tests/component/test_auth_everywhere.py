"""Deny by default: every route of every app needs a user, except health and the ways in."""
from __future__ import annotations

import re

import pytest

from services.cli import migrate_all
from services.embedded import build_network

PUBLIC = {"/healthz", "/readyz", "/metrics", "/login", "/logout", "/", "/api/v1/auth/token",
          "/api/v1/partner-callbacks/<partner>", "/ui-language/<lang>",
          # the walk-in kiosk and display: no login, but the site's key in the address (a
          # wrong one is a 404 for anyone: test_walk_in_pages.py)
          "/queue/kiosk/<site>/<key>", "/queue/display/<site>/<key>",
          "/queue/display/<site>/<key>/numbers"}


@pytest.fixture(scope="module")
def apps(tmp_path_factory):
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path_factory.mktemp("auth"))
    migrate_all(settings)
    return build_network(settings).wsgi.apps


def concrete(rule: str) -> str:
    def value(m):
        if m.group(0).startswith("<uuid"):
            return "00000000-0000-0000-0000-000000000000"
        return "1" if m.group(0).startswith("<int") else "welfare"
    return re.sub(r"<[^>]+>", value, rule)


@pytest.mark.parametrize("service", ["intake", "referral", "partner_adapter", "ops",
                                     "partner_sandbox"])
def test_no_route_answers_an_anonymous_caller(apps, service):
    app = apps[service]
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.endpoint == "static":
            continue
        if rule.endpoint.startswith("sandbox_api."):
            continue  # the partner systems' APIs check their own API key (next test)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = client.open(concrete(rule.rule), method=method,
                            headers={"Accept": "application/json"})
            assert r.status_code == 401, f"{method} {rule.rule} answered {r.status_code}"
            checked += 1
    assert checked


def test_the_sandbox_apis_want_their_api_key(apps):
    client = apps["partner_sandbox"].test_client()
    r = client.post("/sandbox/welfare/api/cases", json={}, headers={"Idempotency-Key": "k"})
    assert r.status_code == 401
    assert client.get("/sandbox/api/stats").status_code == 401
