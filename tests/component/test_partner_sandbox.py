"""The stand-in partner systems themselves: who may use them, and what an erasure leaves."""
from __future__ import annotations

from pathlib import Path

from services.partner_sandbox import store
from services.partner_sandbox.notifier import PartnerNotifier
from services.partner_sandbox.systems import SYSTEMS
from shared.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

WELFARE_CASE = {"client": {"given_name": "Zyxtrelda", "family_name": "Quorvanek"},
                "programme": "mbe", "topic": "orientation_counselling",
                "client_reference": "9b0f4a52-3a0e-4c5e-9d7e-1f2a3b4c5d6e"}


def credential(app, partner: str, of: str | None = None) -> dict:
    """The headers presenting `of`'s credential (default: the partner's own) to its system."""
    given = app.extensions["sandbox_settings"].partner_credentials[of or partner]
    return SYSTEMS[partner].credential_headers(given)


def welfare_headers(app) -> dict:
    return credential(app, "welfare")


def test_each_stand_in_system_takes_its_own_partner_s_credential_and_no_other(sandbox_app):
    client = sandbox_app.test_client()
    for partner in ("jobcenter", "registration"):
        cases = f"/sandbox/{partner}/cases"
        assert client.get(cases, headers={"X-Api-Key": "sandbox-key"}).status_code == 401
        assert client.get(cases, headers=credential(sandbox_app, partner, "welfare")
                          ).status_code == 401
        assert client.get(cases, headers=credential(sandbox_app, partner)).status_code == 200
    create = client.post("/sandbox/welfare/api/cases", json=WELFARE_CASE, headers={
        "Authorization": "Bearer sandbox-key", "Idempotency-Key": "k1"})
    assert create.status_code == 401
    assert client.get("/sandbox/api/stats", headers={"X-Api-Key": "sandbox-key"}
                      ).status_code == 401
    assert store.find_cases(sandbox_app.extensions["sandbox_engine"]) == []


class RecordingHttp:
    """Stands in for the notifier's requests.Session: keeps what it was asked to POST."""

    def __init__(self):
        self.posts: list[tuple[str, bytes, dict]] = []

    def post(self, url, data, headers, timeout):
        self.posts.append((url, data, headers))
        return type("Answer", (), {"status_code": 200})()


def test_the_notifier_signs_each_callback_with_the_secret_of_the_partner_sending_it(
        sandbox_app):
    engine, s = sandbox_app.extensions["sandbox_engine"], sandbox_app.extensions[
        "sandbox_settings"]
    for partner in ("welfare", "jobcenter"):
        case, _ = store.create_case(engine, partner, f"key-{partner}", WELFARE_CASE)
        store.change_status(engine, partner, case["reference"], "accepted")
    notifier = PartnerNotifier(engine, s)
    notifier.http = RecordingHttp()
    assert notifier.sweep() == 2
    for url, body, headers in notifier.http.posts:
        partner = url.rsplit("/", 1)[1]
        others = [secret for code, secrets in s.callback_secrets.items() if code != partner
                  for secret in secrets]
        signed_with = [secret for secret in (*s.callback_secrets[partner], *others)
                       if verify(secret, body, headers[TIMESTAMP_HEADER],
                                 headers[SIGNATURE_HEADER])]
        assert signed_with == [s.callback_secrets[partner][0]], partner


def test_an_erased_person_is_in_neither_the_sandbox_database_nor_its_write_ahead_log(
        sandbox_app):
    client = sandbox_app.test_client()
    created = client.post("/sandbox/welfare/api/cases", json=WELFARE_CASE,
                          headers={**welfare_headers(sandbox_app), "Idempotency-Key": "k1"})
    assert created.status_code == 201, created.get_json()
    reference = created.get_json()["case_id"]
    erased = client.post(f"/sandbox/welfare/api/cases/{reference}/notices", json={
        "kind": "erasure", "referral_id": WELFARE_CASE["client_reference"],
        "case_reference": reference}, headers={**welfare_headers(sandbox_app),
                                               "Idempotency-Key": "n1"})
    assert erased.status_code == 201, erased.get_json()
    database = Path(sandbox_app.extensions["sandbox_settings"].database_url.split("///", 1)[1])
    for file in (database, Path(f"{database}-wal")):
        assert b"Zyxtrelda" not in (file.read_bytes() if file.exists() else b""), file.name
