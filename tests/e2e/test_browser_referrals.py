"""Referrals that go wrong, in headless Chromium: rejection, re-routing, re-assignment, cancel.

The partner's side is played in the partner sandbox (`/sandbox/`) by the `welfare` partner
user; Lotse's side by `staff` on the referral list, the referral pages and the work queue.
The welfare system's auto-accept is switched off so that its cases stay `new` until the
partner user moves them. Waiting is done with WebDriverWait only (server-rendered pages are
loaded again until they show the awaited state); there are no fixed sleeps.

The smoke intake (an adult, born 1987) sends its orientation counselling need to
welfare/mbe. When MBE rejects, Lotse re-routes to welfare/mbe_diakonie by itself; when that
rejects too, no rule is left and the referral waits in the work queue until staff re-assign
it by hand (here to welfare/jmd).
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
from tests.e2e.test_browser import flash, log_in, submit, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)

NEED = "orientation_counselling"
RECEIVED_OR_ACCEPTED = {"received", "accepted"}
# what the (English) pages show for the codes
NEED_WORD = words.label(NEED, "need", "en")
WELFARE = words.partner_name("welfare", "en")
MBE, MBE_DIAKONIE, JMD = (words.service_name(s, "en") for s in ("mbe", "mbe_diakonie", "jmd"))
BY_WELFARE = f"partner {WELFARE}"


# -- helpers ---------------------------------------------------------------------------------

def switch_user(browser: WebDriver, base: str, username: str) -> None:
    """Log out whoever is logged in (the header's button), then log in as `username`."""
    if not browser.find_elements(By.ID, "logout"):
        browser.get(f"{base}/logout")  # the confirmation page, with the same button
    browser.find_element(By.ID, "logout").click()
    wait_for(browser, lambda b: "/login" in b.current_url, "the login page after logging out")
    log_in(browser, base, username)
    assert "/login" not in browser.current_url, f"{username} was not logged in"


def reload_until(browser: WebDriver, url: str, check, message: str):
    """Load `url` again until `check(browser)` gives something truthy; return that."""
    def attempt(b):
        b.get(url)
        return check(b)
    return wait_for(browser, attempt, message)


def api_referral(client: LotseClient, intake_id: str, service: str, done=lambda r: True):
    """Wait (without a browser page) until the intake's referral to `service` satisfies
    `done`; return it."""
    def check(_browser):
        found = [r for r in client.referrals(intake_id) if r["service"] == service]
        return found[0] if found and done(found[0]) else None
    return check


def sandbox_row(browser: WebDriver, referral_id: str) -> WebElement | None:
    """The sandbox's row of the case opened for this referral (its client reference)."""
    rows = browser.find_elements(By.XPATH, f"//main//tbody/tr[td[2][normalize-space()="
                                           f"'{referral_id}']]")
    return rows[0] if rows else None


def move_sandbox_case(browser: WebDriver, base: str, referral_id: str, status: str) -> str:
    """As the partner user: press the `status` button on the case for this referral; return
    the case reference."""
    row = reload_until(browser, f"{base}/sandbox/", lambda b: sandbox_row(b, referral_id),
                       f"the sandbox case of referral {referral_id}")
    reference = row.find_element(By.XPATH, "td[1]").text
    assert row.find_element(By.CSS_SELECTOR, ".status").text == "new"
    submit(browser, row.find_element(By.XPATH, f".//button[@data-status='{status}']"))
    assert browser.current_url == f"{base}/sandbox/", browser.current_url
    assert flash(browser) == f"{reference}: {status}; Lotse is being notified."
    row = sandbox_row(browser, referral_id)
    assert row.find_element(By.CSS_SELECTOR, ".status").text == status
    return reference


def detail_status(browser: WebDriver) -> str:
    return browser.find_element(By.CSS_SELECTOR, "main .card .status").text


def history(browser: WebDriver) -> list[list[str]]:
    """The history table of a referral page: [when, transition, reason, by] per row."""
    rows = browser.find_elements(By.XPATH, "//h2[.='History']/following-sibling::div[1]//table"
                                           "/tbody/tr")
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in rows]


def list_rows(browser: WebDriver, reference: str) -> list[dict]:
    """The referral list's rows of one intake."""
    out = []
    for tr in browser.find_elements(By.CSS_SELECTOR, "main table tbody tr"):
        cells = tr.find_elements(By.TAG_NAME, "td")
        if len(cells) == 6 and cells[0].text.split("\n")[0] == reference:  # name below
            service = cells[2].find_element(By.CSS_SELECTOR, "span.muted").text
            partner = cells[2].text.removesuffix(service).strip()
            out.append({"need": cells[1].text, "partner": partner, "service": service,
                        "status": cells[3].text, "case": cells[4].text,
                        "href": cells[1].find_element(By.TAG_NAME, "a").get_attribute("href")})
    return out


def queue_row(browser: WebDriver, referral_id: str) -> WebElement | None:
    rows = browser.find_elements(By.CSS_SELECTOR,
                                 f"#queue tr.queue-item[data-referral='{referral_id}']")
    return rows[0] if rows else None


# -- rejected twice, then re-assigned by hand ------------------------------------------------

def test_a_twice_rejected_referral_is_rerouted_then_reassigned_from_the_work_queue(
        network, browser):
    client = LotseClient(network)
    client.set_partner("welfare", "ok", auto_accept_seconds=None)
    intake = client.post_intake(OLENA)
    reference = intake["reference"]
    mbe = wait_for(browser, api_referral(client, intake["id"], "mbe",
                                         lambda r: r["partner_case_ref"]),
                   "the MBE referral's case opened at welfare")
    assert mbe["status"] == "received"

    # -- the welfare partner rejects the MBE case in its own system
    log_in(browser, network, "welfare")
    mbe_case = move_sandbox_case(browser, network, mbe["id"], "rejected")
    assert mbe_case == mbe["partner_case_ref"]

    # -- staff see Lotse re-route the need to MBE of the Diakonie
    switch_user(browser, network, "staff")
    rows = reload_until(
        browser, f"{network}/referrals",
        lambda b: (lambda rows: rows if {r["service"] for r in rows if r["need"] == NEED_WORD}
                   == {MBE, MBE_DIAKONIE} else None)(list_rows(b, reference)),
        "the re-routed mbe_diakonie referral in the referral list")
    by_service = {r["service"]: r for r in rows if r["need"] == NEED_WORD}
    assert by_service[MBE]["status"] == "rejected"
    assert by_service[MBE]["case"] == mbe_case
    assert by_service[MBE_DIAKONIE]["partner"] == WELFARE
    assert by_service[MBE_DIAKONIE]["status"] in {"requested", "received"}
    diakonie_id = by_service[MBE_DIAKONIE]["href"].rsplit("/", 1)[1]

    browser.get(f"{network}/intakes/{intake['id']}")
    services = [td.text for td in browser.find_elements(
        By.XPATH, f"//main//tbody/tr[td[1][.='{NEED_WORD}']]/td[2]")]
    assert sorted(services) == sorted([f"{WELFARE} ({MBE})", f"{WELFARE} ({MBE_DIAKONIE})"])

    browser.get(f"{network}/referrals/{mbe['id']}")
    assert detail_status(browser) == "rejected"
    taken_over = browser.find_element(By.XPATH, "//p[starts-with(normalize-space(),"
                                                "'Taken over by')]/a")
    assert taken_over.text == diakonie_id[:8]
    assert taken_over.get_attribute("href").endswith(f"/referrals/{diakonie_id}")
    [rejection] = [h for h in history(browser) if h[1].endswith("→ rejected")]
    assert rejection[1:] == ["received → rejected", "other reason", BY_WELFARE], rejection
    # its need is taken over: re-assigning it again would open a second, parallel referral
    assert not browser.find_elements(By.XPATH, "//main//button[.='Re-assign']")

    # -- the Diakonie rejects too
    switch_user(browser, network, "welfare")
    move_sandbox_case(browser, network, diakonie_id, "rejected")

    # -- nothing is left to route to: the referral waits in the staff work queue
    switch_user(browser, network, "staff")
    row = reload_until(
        browser, f"{network}/work-queue",
        lambda b: (lambda row: row if row and row.find_element(
            By.CSS_SELECTOR, ".status").text == "rejected, no partner left" else None)(
            queue_row(b, diakonie_id)),
        "the rejected mbe_diakonie referral in the work queue")
    cells = row.find_elements(By.TAG_NAME, "td")
    assert cells[1].text.split("\n")[0] == reference
    wait_for(browser, lambda b: "Olena Kovalenko" in queue_row(b, diakonie_id).text,
             "the person's name beside the reference")
    assert cells[2].text == NEED_WORD
    assert cells[3].text == f"{WELFARE} {MBE_DIAKONIE}"
    assert queue_row(browser, mbe["id"]) is None, "the re-routed MBE referral is still queued"

    Select(row.find_element(By.NAME, "target")).select_by_value("welfare/jmd")
    submit(browser, row.find_element(By.CSS_SELECTOR, "button.reassign"))
    assert flash(browser) == f"Referred to {WELFARE} ({JMD})."
    jmd_url = browser.current_url
    jmd_id = jmd_url.rsplit("/", 1)[1]
    assert jmd_url.startswith(f"{network}/referrals/") and jmd_id not in (mbe["id"],
                                                                          diakonie_id)
    assert browser.find_element(By.TAG_NAME, "h1").text == f"Referral: {NEED_WORD} → {WELFARE}"
    assert detail_status(browser) in {"requested", "received"}
    assert f"{JMD}: referred by hand by staff" in browser.find_element(By.TAG_NAME, "main").text

    reload_until(browser, jmd_url, lambda b: detail_status(b) == "received",
                 "the re-assigned JMD referral received by welfare")
    case = browser.find_element(By.XPATH, "//div[strong[.='Partner case']]").text
    assert case.split()[-1].startswith("WF-"), case
    received = history(browser)[-1]
    assert (received[1], received[3]) == ("requested → received", BY_WELFARE), received

    # -- the re-assigned referral has left the queue; its page names the rejection
    browser.get(f"{network}/work-queue")
    assert queue_row(browser, diakonie_id) is None, "the re-assigned referral is still queued"
    browser.get(f"{network}/referrals/{diakonie_id}")
    assert detail_status(browser) == "rejected"
    link = browser.find_element(By.XPATH, "//p[starts-with(normalize-space(),"
                                          "'Taken over by')]/a")
    assert link.get_attribute("href").endswith(f"/referrals/{jmd_id}")
    assert not browser.find_elements(By.XPATH, "//main//button[.='Re-assign']")
    transitions = [h[1:] for h in history(browser)]
    assert ["received → rejected", "other reason", BY_WELFARE] in transitions, transitions

    jmd = wait_for(browser, api_referral(client, intake["id"], "jmd"), "the JMD referral (API)")
    assert jmd["id"] == jmd_id and jmd["status"] in RECEIVED_OR_ACCEPTED


# -- cancelled by staff ----------------------------------------------------------------------

def test_staff_cancel_a_referral_and_the_partner_case_is_withdrawn(network, browser):
    client = LotseClient(network)
    client.set_partner("welfare", "ok", auto_accept_seconds=None)
    intake = client.post_intake(OLENA)
    mbe = wait_for(browser, api_referral(client, intake["id"], "mbe",
                                         lambda r: r["partner_case_ref"]),
                   "the MBE referral's case opened at welfare")

    log_in(browser, network, "staff")
    browser.get(f"{network}/referrals/{mbe['id']}")
    assert detail_status(browser) == "received"
    Select(browser.find_element(By.ID, "reason")).select_by_value("person_withdrew")
    submit(browser, browser.find_element(By.XPATH, "//button[.='Cancel referral']"))
    assert flash(browser) == "Referral cancelled; the partner is told."
    assert browser.current_url == f"{network}/referrals/{mbe['id']}"
    assert detail_status(browser) == "cancelled"
    status_card = browser.find_element(By.XPATH, "//div[strong[.='Status']]").text
    assert "the person withdrew" in status_card
    assert [h[1:] for h in history(browser)][-1] == ["received → cancelled",
                                                     "the person withdrew", "staff"]
    assert not browser.find_elements(By.XPATH, "//button[.='Cancel referral']")

    def withdrawn(_browser):
        cases = [c for c in client.sandbox_cases("welfare")
                 if c["reference"] == mbe["partner_case_ref"]]
        return cases and cases[0]["status"] == "withdrawn"

    wait_for(browser, withdrawn, "the welfare case withdrawn in the partner system")


def test_a_partner_without_a_case_api_answers_in_the_partner_portal(browser, network):
    client = LotseClient(network)
    kita = {**OLENA, "needs": ["kita_place"],
            "person": {**OLENA["person"], "household": [
                {"given_name": "Maria", "family_name": "Kovalenko", "relation": "child",
                 "birth_date": "2023-01-01"}]}}
    intake = client.post_intake(kita)
    [ref] = client.wait_referred(intake["id"], 1)
    assert ref["partner"] == "jugendamt" and ref["partner_case_ref"].startswith("HO-")

    log_in(browser, network, "jugendamt")
    browser.get(f"{network}/partner/cases")
    form = wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "tr.portal-actions form"),
                    "the answer form of the hand-over case")
    Select(form.find_element(By.NAME, "status")).select_by_value("completed")
    Select(form.find_element(By.NAME, "outcome")).select_by_value("place_offered")
    submit(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "Your answer was sent: Complete." in flash(browser)
    wait_for(browser, lambda b: client.intake(intake["id"])["referrals"][0]["status"]
             == "completed", "the referral completed in Lotse")
    [done] = client.referrals(intake["id"])
    assert done["outcome"] == "place_offered"
    browser.get(f"{network}/partner/cases")
    assert not browser.find_elements(By.CSS_SELECTOR, "tr.portal-actions")
