"""The whole embedded network in this process: HTTP in, partner cases out, answers back."""
from __future__ import annotations

import pytest

from tests.conftest import wait_until
from tests.e2e.client import LotseClient

pytestmark = pytest.mark.e2e


def test_the_smoke_request_reaches_three_partners_within_ten_seconds(network, smoke_intake):
    client = LotseClient(network)
    intake = client.post_intake(smoke_intake)
    refs = client.wait_referred(intake["id"], 3, timeout=10)
    assert {r["partner"] for r in refs} == {"registration", "jobcenter", "welfare"}
    assert {r["service"] for r in refs} >= {"mbe"}
    by_referral = {r["id"]: r for r in client.referrals(intake["id"])}
    assert len(by_referral) == 3
    first = {r["partner"]: r["history"][0]["status"] for r in by_referral.values()}
    # the Jobcenter referral waited for the registration appointment, then left
    assert first == {"registration": "requested", "welfare": "requested", "jobcenter": "on-hold"}


def test_partner_answers_flow_back_to_the_intake(network, smoke_intake):
    client = LotseClient(network)
    intake = client.post_intake(smoke_intake)
    wait_until(lambda: all(r["status"] == "accepted"
                           for r in client.intake(intake["id"])["referrals"])
               and len(client.intake(intake["id"])["referrals"]) == 3,
               timeout=15, message="accepted by all partners")


def test_a_partner_down_is_retried_and_ends_with_exactly_one_case(network, smoke_intake):
    client = LotseClient(network)
    client.set_partner("jobcenter", "fail")
    intake = client.post_intake(smoke_intake)
    wait_until(lambda: client.sandbox_stats().get("welfare"), message="other partners served")
    client.set_partner("jobcenter", "ok")
    client.wait_referred(intake["id"], 3, timeout=15)
    jobcenter = [c for c in client.sandbox_cases("jobcenter")]
    assert len(jobcenter) == 1


def test_a_timeout_after_the_partner_stored_the_case_does_not_duplicate_it(network,
                                                                         smoke_intake):
    client = LotseClient(network)
    # longer than the adapter's read timeout; no status callback that could reveal the case
    client.set_partner("welfare", "timeout", delay=11, auto_accept_seconds=None)
    intake = client.post_intake(smoke_intake)
    wait_until(lambda: client.sandbox_cases("welfare"), timeout=10, message="case stored")
    client.set_partner("welfare", "ok", auto_accept_seconds=None)
    client.wait_referred(intake["id"], 3, timeout=25)
    [case] = client.sandbox_cases("welfare")
    assert case["posts"] == 1  # the lost answer was resolved by a lookup, not a second post


def test_an_unroutable_need_is_on_hold_and_visible(network, smoke_intake):
    client = LotseClient(network)
    smoke_intake["needs"] = ["school_place"]  # 39 years old: past the DLZB's 6-25
    intake = client.post_intake(smoke_intake)
    [ref] = wait_until(lambda: client.intake(intake["id"])["referrals"], message="referral")
    assert ref["status"] == "on-hold" and ref["reason"] == "no_matching_rule"


def test_a_partner_without_a_case_api_gets_the_referral_in_the_portal(network, smoke_intake):
    client = LotseClient(network)
    smoke_intake["needs"] = ["kita_place"]
    smoke_intake["person"]["household"] = [{"given_name": "Maria", "family_name": "Kovalenko",
                                            "relation": "child", "birth_date": "2023-01-01"}]
    intake = client.post_intake(smoke_intake)
    [ref] = client.wait_referred(intake["id"], 1, timeout=10)
    assert ref["partner"] == "jugendamt" and ref["partner_case_ref"].startswith("HO-")


def test_the_district_of_the_address_reaches_the_district_office(network, smoke_intake):
    client = LotseClient(network)
    smoke_intake["needs"] = ["local_integration"]
    smoke_intake["residence_status"] = "SUBSIDIARY_PROTECTION"
    smoke_intake["person"]["contact"] = {"address": {
        "street": "Mallinckrodtstraße 1", "postcode": "44145", "city": "Dortmund"}}
    intake = client.post_intake(smoke_intake)
    [ref] = client.wait_referred(intake["id"], 1, timeout=10)
    assert ref["partner"] == "lokal_willkommen"
    [routed] = client.referrals(intake["id"])
    assert "lives in innenstadt_nord" in routed["routing_reason"]
