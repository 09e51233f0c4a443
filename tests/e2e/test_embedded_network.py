"""The whole embedded network in this process: HTTP in, partner cases out, answers back."""
from __future__ import annotations

import pytest

from tests.conftest import wait_until
from tests.e2e.client import LotseClient

pytestmark = pytest.mark.e2e


def test_the_smoke_request_refers_and_asks_for_the_fact_its_living_costs_need(network,
                                                                             smoke_intake):
    """The README's request as it stands: registration and counselling reach their partners;
    living costs wait on hold, naming the fact that decides (the § 24 permit's first-issue
    date: Jobcenter or Sozialamt since 1 July 2026) and the paragraph."""
    client = LotseClient(network)
    intake = client.post_intake(smoke_intake)
    by_need = {}

    def settled():
        by_need.update({r["need"]: r for r in client.referrals(intake["id"])})
        return (len(by_need) == 3 and by_need["living_costs"]["status"] == "on-hold"
                and all(by_need[n]["partner_case_ref"]
                        for n in ("address_registration", "orientation_counselling")))
    wait_until(settled, timeout=10, message="two referrals received, one on hold")
    waiting = by_need["living_costs"]
    assert (waiting["partner"], waiting["reason"]) == (None, "fact_missing"), waiting
    assert waiting["routing_reason"].startswith("fact missing: first_issue_date"), waiting
    assert "AsylbLG" in waiting["routing_reason"]
    assert by_need["orientation_counselling"]["service"] == "mbe"


def test_olena_with_her_permit_date_reaches_three_partners_within_ten_seconds(network,
                                                                            olena_intake):
    client = LotseClient(network)
    intake = client.post_intake(olena_intake)
    refs = client.wait_referred(intake["id"], 3, timeout=10)
    assert {r["partner"] for r in refs} == {"registration", "jobcenter", "welfare"}
    assert {r["service"] for r in refs} >= {"mbe"}
    by_referral = {r["id"]: r for r in client.referrals(intake["id"])}
    assert len(by_referral) == 3
    first = {r["partner"]: r["history"][0]["status"] for r in by_referral.values()}
    # the Jobcenter referral waited for the registration appointment, then left
    assert first == {"registration": "requested", "welfare": "requested", "jobcenter": "on-hold"}


def test_partner_answers_flow_back_to_the_intake(network, olena_intake):
    client = LotseClient(network)
    intake = client.post_intake(olena_intake)
    wait_until(lambda: all(r["status"] == "accepted"
                           for r in client.intake(intake["id"])["referrals"])
               and len(client.intake(intake["id"])["referrals"]) == 3,
               timeout=15, message="accepted by all partners")


def test_a_partner_down_is_retried_and_ends_with_exactly_one_case(network, olena_intake):
    client = LotseClient(network)
    client.set_partner("jobcenter", "fail")
    intake = client.post_intake(olena_intake)
    wait_until(lambda: client.sandbox_stats().get("welfare"), message="other partners served")
    client.set_partner("jobcenter", "ok")
    client.wait_referred(intake["id"], 3, timeout=15)
    jobcenter = [c for c in client.sandbox_cases("jobcenter")]
    assert len(jobcenter) == 1


def test_a_timeout_after_the_partner_stored_the_case_does_not_duplicate_it(network,
                                                                         olena_intake):
    client = LotseClient(network)
    # longer than the adapter's read timeout; no status callback that could reveal the case
    client.set_partner("welfare", "timeout", delay=11, auto_accept_seconds=None)
    intake = client.post_intake(olena_intake)
    wait_until(lambda: client.sandbox_cases("welfare"), timeout=10, message="case stored")
    client.set_partner("welfare", "ok", auto_accept_seconds=None)
    client.wait_referred(intake["id"], 3, timeout=25)
    [case] = client.sandbox_cases("welfare")
    assert case["posts"] == 1  # the lost answer was resolved by a lookup, not a second post


def test_an_unroutable_need_is_on_hold_and_visible(network, olena_intake):
    client = LotseClient(network)
    olena_intake["needs"] = ["school_place"]  # 39 years old: past the DLZB's 6-25
    intake = client.post_intake(olena_intake)
    [ref] = wait_until(lambda: client.intake(intake["id"])["referrals"], message="referral")
    assert ref["status"] == "on-hold" and ref["reason"] == "no_matching_rule"


def test_a_partner_without_a_case_api_gets_the_referral_in_the_portal(network, olena_intake):
    client = LotseClient(network)
    olena_intake["needs"] = ["kita_place"]
    olena_intake["person"]["household"] = [{"given_name": "Maria", "family_name": "Kovalenko",
                                            "relation": "child", "birth_date": "2023-01-01"}]
    intake = client.post_intake(olena_intake)
    [ref] = client.wait_referred(intake["id"], 1, timeout=10)
    assert ref["partner"] == "jugendamt" and ref["partner_case_ref"].startswith("HO-")


def test_the_district_of_the_address_reaches_the_district_office(network, olena_intake):
    client = LotseClient(network)
    olena_intake["needs"] = ["local_integration"]
    olena_intake["residence_status"] = "SUBSIDIARY_PROTECTION"
    olena_intake["person"]["contact"] = {"address": {
        "street": "Mallinckrodtstraße 1", "postcode": "44145", "city": "Dortmund"}}
    intake = client.post_intake(olena_intake)
    [ref] = client.wait_referred(intake["id"], 1, timeout=10)
    assert ref["partner"] == "lokal_willkommen"
    [routed] = client.referrals(intake["id"])
    assert "lives in innenstadt_nord" in routed["routing_reason"]


def test_two_childrens_school_places_reach_the_school_office_each_naming_the_child(
        network, olena_intake):
    """A need may name the household member it is for (issue 19, class 2): the rules look at
    that child's age, the referral and the partner's case say whom it is for."""
    client = LotseClient(network)
    olena_intake["person"]["household"] = [
        {"given_name": "Andrii", "family_name": "Kovalenko", "relation": "spouse",
         "birth_date": "1985-01-02"},
        {"given_name": "Ivan", "family_name": "Kovalenko", "relation": "child",
         "birth_date": "2015-09-09"},
        {"given_name": "Sofia", "family_name": "Kovalenko", "relation": "child",
         "birth_date": "2012-02-01"}]
    olena_intake["needs"] = [{"code": "school_place", "for_member": 1},
                             {"code": "school_place", "for_member": 2}]
    olena_intake["consent"] = {"share_with_partners": True, "method": "signed_form",
                               "language": "uk"}
    intake = client.post_intake(olena_intake)
    refs = client.wait_referred(intake["id"], 2, timeout=10)
    assert {r["partner"] for r in refs} == {"dlzb"}
    routed = sorted(client.referrals(intake["id"]), key=lambda r: r["for_member"])
    assert [(r["for_member"], r["for_person"]["given_name"]) for r in routed] == [
        (1, "Ivan"), (2, "Sofia")]
    assert routed[1]["routing_reason"].startswith("for the child born 2012-02-01: ")
    # the school office's portal names the child of each case; the spouse nowhere
    page = LotseClient(network, "dlzb").http.get(f"{network}/partner/cases", timeout=10).text
    assert "Ivan Kovalenko</bdi> (Kind, 09.09.2015)" in page
    assert "Sofia Kovalenko</bdi> (Kind, 01.02.2012)" in page
    assert "Andrii" not in page
    # staff see it on the consultation too, as it listed the household
    consultation = client.http.get(f"{network}/intakes/{intake['id']}", timeout=10).text
    assert consultation.count("Ivan Kovalenko</bdi> (Kind, 09.09.2015)") == 1
    assert consultation.count("Sofia Kovalenko</bdi> (Kind, 01.02.2012)") == 1


def test_a_fact_recorded_later_routes_the_referral_that_waited_for_it(network, smoke_intake):
    """The smoke request's living costs wait for the § 24 permit's first-issue date (issue
    19, class 4). Recorded afterwards, it routes the waiting referral: a permit first
    issued before 1 April 2025 is the Jobcenter's (SGB II). A fact recorded already is
    not changed here; the answer names the field."""
    client = LotseClient(network)
    intake = client.post_intake(smoke_intake)
    facts = f"{network}/api/v1/intakes/{intake['id']}/facts"

    def held():
        return [r for r in client.referrals(intake["id"])
                if r["need"] == "living_costs" and r["reason"] == "fact_missing"]
    wait_until(held, timeout=10, message="living costs on hold for a fact")
    r = client.http.post(facts, json={}, timeout=10)
    assert r.status_code == 422 and "at least one fact" in r.text
    r = client.http.post(facts, json={"residence": {"first_issue_date": "2022-03-20"}},
                         timeout=10)
    assert r.status_code == 200, r.text
    client.wait_referred(intake["id"], 3, timeout=15)  # all three at their partners now
    living = next(x for x in client.referrals(intake["id"]) if x["need"] == "living_costs")
    assert (living["partner"], living["service"]) == ("jobcenter", "sgb2"), living
    # held for the fact, then (perhaps after waiting for the registration) requested
    statuses = [h["status"] for h in living["history"]]
    assert statuses[0] == "on-hold" and "requested" in statuses, statuses
    shown = next(x for x in client.intake(intake["id"])["referrals"]
                 if x["need"] == "living_costs")
    assert shown["partner"] == "jobcenter"  # the intake's view learnt it too
    r = client.http.post(facts, json={"residence": {"first_issue_date": "2022-04-01"}},
                         timeout=10)
    assert r.status_code == 422
    assert r.json()["errors"]["json"]["residence"]["first_issue_date"], r.text
