"""The person page follows its referrals as they are routed and answered, without reloading,
and leads to the visitor's printable sheet (issue 20, item 5)."""
from __future__ import annotations

import copy

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import OLENA, wait_until
from tests.e2e.client import LotseClient
from tests.e2e import test_browser
from tests.e2e.test_browser import WAIT_SECONDS, log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

browser = test_browser.browser  # the headless Chromium fixture (English UI)


def _status(browser) -> str:
    return browser.find_element(By.CSS_SELECTOR, "#referral-rows tr.referral .status").text


def test_the_person_page_shows_each_referral_reach_its_partner_without_reloading(
        network, browser):
    client = LotseClient(network)
    client.set_partner("welfare", "slow", delay=4)  # the case stays requested a while
    intake = copy.deepcopy(OLENA)
    intake["needs"] = ["orientation_counselling"]
    recorded = client.post_intake(intake)
    log_in(browser, network, "staff")
    browser.get(f"{network}/persons/{recorded['person_id']}")
    assert _status(browser) in ("being referred…", "requested")
    browser.execute_script("window.lotseSamePage = true;")
    wait_for(browser, lambda b: _status(b) == "accepted", "the partner's acceptance shown",
             timeout=WAIT_SECONDS + 10)
    row = browser.find_element(By.CSS_SELECTOR, "#referral-rows tr.referral").text
    assert "WF-" in row and "Welfare associations (MBE/JMD)" in row
    assert browser.execute_script("return window.lotseSamePage === true;"), "page reloaded"
    assert browser.find_element(By.ID, "referrals-state").text.startswith("Updated")
    # once settled, the page stops asking
    assert browser.find_element(By.ID, "referral-rows").get_attribute("data-settling") == "no"
    # the visitor's sheet, one click away
    browser.find_element(By.LINK_TEXT, "Print next steps for the visitor").click()
    wait_for(browser, lambda b: "/next-steps" in b.current_url, "the next-steps sheet")
    sections = browser.find_elements(By.CSS_SELECTOR, ".sheet section")
    assert [s.get_attribute("lang") for s in sections] == ["uk", "de"]
    assert "Propsteihof 10, 44137 Dortmund" in sections[1].text


def test_referral_lists_and_the_work_queue_name_the_person_to_staff(network, browser,
                                                                    smoke_intake):
    client = LotseClient(network)
    recorded = client.post_intake(smoke_intake)  # living costs wait for a fact: work queue
    wait_until(lambda: len(client.referrals(recorded["id"])) == 3, message="three referrals")
    log_in(browser, network, "staff")
    for page in ("/referrals", "/work-queue"):
        browser.get(network + page)
        wait_for(browser, lambda b: "Olena Kovalenko" in [
            e.text for e in b.find_elements(By.CSS_SELECTOR, ".person-name")],
            f"the person's name on {page}")
