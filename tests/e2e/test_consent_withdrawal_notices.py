"""A consent withdrawn after the partners accepted: every partner that received data on it
is told, within seconds, through its own system; one with a statutory duty is not."""
from __future__ import annotations

import json

import pytest

from tests.conftest import wait_until
from tests.e2e.client import LotseClient

pytestmark = pytest.mark.e2e


def sandbox_notices(client: LotseClient, partner: str) -> list[dict]:
    r = client.sandbox.get(f"{client.base}/sandbox/{partner}/notices", timeout=10)
    r.raise_for_status()
    return r.json()["items"]


def test_a_withdrawn_consent_reaches_the_partners_that_accepted_within_seconds(
        network, olena_intake):
    client = LotseClient(network)
    intake = client.post_intake(olena_intake)
    wait_until(lambda: len(refs := client.intake(intake["id"])["referrals"]) == 3
               and all(r["status"] == "accepted" for r in refs),
               timeout=20, message="accepted by all partners")
    person_id = client.intake(intake["id"])["person_id"]

    def valid_consents():
        return [c for c in client.http.get(f"{client.base}/api/v1/persons/{person_id}/consents",
                                           timeout=10).json()["items"] if c["valid"]]
    assert valid_consents()
    while valid := valid_consents():  # withdrawing one may withdraw those derived from it
        r = client.http.post(f"{client.base}/api/v1/consents/{valid[0]['id']}/withdraw",
                             json={"reason": "person asked"}, timeout=10)
        assert r.status_code == 200, r.text

    by_partner = {r["partner"]: r for r in client.referrals(intake["id"])}
    for partner in ("welfare", "jobcenter"):  # shared on the person's consent
        [notice] = wait_until(lambda p=partner: sandbox_notices(client, p), timeout=10,
                              message=f"{partner} told of the withdrawal")
        assert notice["kind"] == "consent_withdrawn" and notice["deliveries"] == 1
        assert notice["case_reference"] == by_partner[partner]["partner_case_ref"]
        sent = json.dumps(notice["body"])
        assert by_partner[partner]["id"] in sent
        for value in (olena_intake["person"]["family_name"],
                      olena_intake["person"]["birth_date"]):
            assert value not in sent
    # staff see on the referral who was told what, when
    wait_until(lambda: any(h["reason"] == "partner_notice_consent_withdrawn"
                           for r in client.referrals(intake["id"]) if r["partner"] == "welfare"
                           for h in r["history"]),
               timeout=10, message="the notice in the referral's history")
    assert sandbox_notices(client, "registration") == []  # a statutory duty, not consent
