"""The partner portal in headless Chromium: a portal partner sees only its own cases and
accepts one; staff see the referral accepted within seconds.

Portal partners have no case system of their own: Lotse opens a hand-over case for them
(reference `HO-...`) and they answer in Lotse's partner portal at `/partner/cases`. Two
portal partners get cases here, from two intakes sent through the API:

- A = course_provider: the language course need of the smoke intake (Olena Kovalenko, here
  a recognised refugee: entitled to an integration course under § 44 (1) AufenthG);
- B = health_insurer: the health insurance need of the same intake (insured by statutory
  health insurance, not by the Sozialamt) and of a second person's intake (a § 24 holder).

Partner A's user must see its one case and nothing of B's, must not be able to answer B's
case by posting to its report URL, and accepts its own case in the form; staff then load the
referral page again until it shows `accepted`. Waiting is done with WebDriverWait only;
there are no fixed sleeps.
"""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from shared import words
from tests.conftest import OLENA
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import WAIT_SECONDS, flash, log_in, submit, wait_for
from tests.e2e.test_browser_referrals import detail_status, history, switch_user

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)

A, A_NEED, A_SERVICE = "course_provider", "language_course", "integration_course"
B, B_NEED, B_SERVICE = "health_insurer", "health_insurance", "gkv"
STAFF_SEES_IT_WITHIN = 5  # seconds the staff referral page may take to show the answer

BOTH_NEEDS = {**OLENA, "needs": [A_NEED, B_NEED],
              "residence_status": "REFUGEE_RECOGNISED"}
OTHER_PERSON = {**OLENA, "needs": [B_NEED],
                "person": {"given_name": "Taras", "family_name": "Melnyk",
                           "birth_date": "1980-05-05", "nationality": "UA",
                           "languages": ["uk"]}}

CASE_ROWS_JS = """
return [...document.querySelectorAll('main tbody tr:not(.portal-actions)')].map(
  tr => [...tr.cells].map(td => td.innerText.trim()));
"""
# As the logged-in partner: post an answer to a case's report URL the way the portal form
# does (same session cookie, the csrf token of the page's answer form); give back the HTTP
# status after any redirect (200 when the answer is taken, 404 when the case is not found).
POST_REPORT_JS = """
const [caseId, done] = [arguments[0], arguments[arguments.length - 1]];
const token = document.querySelector('tr.portal-actions input[name=csrf_token]').value;
fetch(`/partner/cases/${caseId}/report`, {
  method: 'POST', credentials: 'same-origin',
  body: new URLSearchParams({csrf_token: token, status: 'accepted', reason: ''}),
}).then(r => done(r.status), e => done(String(e)));
"""


# -- helpers ---------------------------------------------------------------------------------

def en(code: str, vocabulary: str) -> str:
    """The word the (English) portal shows for a code."""
    return words.label(code, vocabulary, "en")


def portal_cases(client: LotseClient, partner: str) -> dict[str, dict]:
    """The partner's hand-over cases by referral id (partner adapter API, as staff)."""
    r = client.http.get(f"{client.base}/api/v1/partner-cases", params={"partner": partner},
                        timeout=10)
    r.raise_for_status()
    return {c["referral_id"]: c for c in r.json()["items"]}


def handed_over(client: LotseClient, intake_id: str, count: int) -> dict[str, dict]:
    """Wait until the intake's referrals have reached their portal partners; by partner."""
    refs = client.wait_referred(intake_id, count, timeout=WAIT_SECONDS)
    for r in refs:
        assert r["status"] == "received", r
        assert r["partner_case_ref"].startswith("HO-"), r
    return {r["partner"]: r for r in refs}


def case_rows(browser: WebDriver) -> list[list[str]]:
    """Cell texts of the portal's case rows (without the answer-form rows under them)."""
    return browser.execute_script(CASE_ROWS_JS)


def answer_form(browser: WebDriver, case_ref: str) -> WebElement:
    """The answer form in the row right under the case with this partner reference."""
    return browser.find_element(
        By.XPATH, f"//main//tbody/tr[td[5][normalize-space()='{case_ref}']]"
                  "/following-sibling::tr[1][contains(@class,'portal-actions')]//form")


# -- the portal partner's view and answer ----------------------------------------------------

def test_a_portal_partner_sees_only_its_own_cases_and_its_acceptance_reaches_staff(
        network, browser):
    client = LotseClient(network)
    olena = client.post_intake(BOTH_NEEDS)
    taras = client.post_intake(OTHER_PERSON)
    olena_refs = handed_over(client, olena["id"], 2)
    taras_refs = handed_over(client, taras["id"], 1)
    assert set(olena_refs) == {A, B} and set(taras_refs) == {B}
    mine = olena_refs[A]
    assert (mine["need"], mine["service"]) == (A_NEED, A_SERVICE), mine
    theirs = [olena_refs[B], taras_refs[B]]
    assert {(r["need"], r["service"]) for r in theirs} == {(B_NEED, B_SERVICE)}
    b_cases = portal_cases(client, B)
    assert {c["partner_case_ref"] for c in b_cases.values()} == {
        r["partner_case_ref"] for r in theirs}

    # -- partner A logs in and lands on its cases: its one case, nothing of partner B's
    log_in(browser, network, A)
    wait_for(browser, lambda b: b.current_url == f"{network}/partner/cases",
             "the partner's cases after logging in")
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Cases · {en(A, 'partner')}"
    [row] = case_rows(browser)
    assert row[0] == olena["reference"]
    assert row[1].splitlines()[0] == "Olena Kovalenko"
    assert row[2].splitlines() == [en(A_NEED, "need"),
                                   f"{en(A, 'partner')} / {en(A_SERVICE, 'service')}"]
    assert row[3] == "delivered"
    assert row[4] == mine["partner_case_ref"]
    assert row[5] == "—"
    page = browser.find_element(By.TAG_NAME, "main").text
    for ref in theirs:
        assert ref["partner_case_ref"] not in page, f"{B}'s case {ref['partner_case_ref']}"
    assert B not in page and B_NEED not in page
    assert en(B, "partner") not in page and en(B_NEED, "need") not in page
    assert taras["reference"] not in page and "Melnyk" not in page

    # -- nor can A answer one of B's cases by posting to its report URL
    b_case = b_cases[olena_refs[B]["referral_id"]]
    browser.set_script_timeout(WAIT_SECONDS)
    assert browser.execute_async_script(POST_REPORT_JS, b_case["id"]) == 404
    assert portal_cases(client, B)[olena_refs[B]["referral_id"]]["partner_status"] is None
    assert {r["partner"]: r["status"] for r in client.referrals(olena["id"])}[B] == "received"

    # -- A accepts its case in the portal
    form = answer_form(browser, mine["partner_case_ref"])
    # only what the chosen answer takes: a reason for a rejection, an outcome for a completion
    Select(form.find_element(By.NAME, "status")).select_by_value("rejected")
    assert form.find_element(By.NAME, "reason_code").is_displayed()
    assert not form.find_element(By.NAME, "outcome").is_displayed()
    Select(form.find_element(By.NAME, "status")).select_by_value("accepted")
    assert not form.find_element(By.NAME, "reason_code").is_displayed()
    submit(browser, form.find_element(By.XPATH, ".//button[normalize-space()='Send answer']"))
    assert browser.current_url == f"{network}/partner/cases", browser.current_url
    assert flash(browser) == "Your answer was sent: Accept."
    [row] = case_rows(browser)
    assert (row[4], row[5]) == (mine["partner_case_ref"], "accepted"), row

    # -- staff see the referral accepted within seconds
    switch_user(browser, network, "staff")
    url = f"{network}/referrals/{mine['referral_id']}"

    def accepted(b):
        b.get(url)
        return detail_status(b) == "accepted"

    wait_for(browser, accepted, f"the referral accepted on its page within "
             f"{STAFF_SEES_IT_WITHIN} s", timeout=STAFF_SEES_IT_WITHIN)
    assert browser.find_element(By.TAG_NAME, "h1").text == (
        f"Referral: {en(A_NEED, 'need')} → {en(A, 'partner')}")
    transitions = [(h[1], h[3]) for h in history(browser)]
    assert transitions[-1] == ("received → accepted", f"partner {en(A, 'partner')}"), transitions

    # -- B's case was left alone
    browser.get(f"{network}/referrals/{olena_refs[B]['referral_id']}")
    assert detail_status(browser) == "received"
