"""The stand-in partner systems themselves: who may use them, and what an erasure leaves."""
from __future__ import annotations

from pathlib import Path

WELFARE_CASE = {"client": {"given_name": "Zyxtrelda", "family_name": "Quorvanek"},
                "programme": "mbe", "topic": "orientation_counselling",
                "client_reference": "9b0f4a52-3a0e-4c5e-9d7e-1f2a3b4c5d6e"}


def welfare_headers(app) -> dict:
    return {"Authorization": f"Bearer {app.extensions['sandbox_settings'].partner_api_key}"}


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
