"""The routing rule editor in headless Chromium: an admin previews what a change would do to
the latest intakes before saving, a service the partner does not offer is refused next to
its field, and a saved change is a new version of the table.

The smoke intake (an adult, born 1987) sends its orientation counselling need to welfare/mbe
by rule `orientation-mbe`; the admin tries the rule with the second association's service.
"""
from __future__ import annotations

import copy

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from shared import words
from tests.conftest import OLENA
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import flash, log_in, submit, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)

RULE = "orientation-mbe"
WELFARE = words.partner_name("welfare", "en")


def replay_rows(browser) -> list[list[str]]:
    return [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#replay tbody tr")]


def rule_service(client: LotseClient, base: str) -> str:
    listed = client.http.get(f"{base}/api/v1/routing-rules", timeout=10).json()["items"]
    return {r["id"]: r["service"] for r in listed}[RULE]


def test_an_admin_previews_a_rule_change_then_saves_it(network, browser):
    staff = LotseClient(network)
    intake = staff.post_intake(copy.deepcopy(OLENA))
    staff.wait_referred(intake["id"], 3)
    log_in(browser, network, "admin")
    browser.get(f"{network}/routing-rules/{RULE}/edit")
    service = Select(browser.find_element(By.ID, "service"))
    assert service.first_selected_option.get_attribute("value") == "mbe"

    # 1. preview: the smoke intake's need would move to the second association; nothing saved
    service.select_by_value("mbe_diakonie")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=replay]"))
    rows = wait_for(browser, lambda b: replay_rows(b), "the changes the rule would make")
    assert [intake["reference"], words.label("orientation_counselling", "need", "en"),
            f"{WELFARE} / {words.service_name('mbe', 'en')}",
            f"{WELFARE} / {words.service_name('mbe_diakonie', 'en')}"] in rows
    assert rule_service(staff, network) == "mbe"

    # 2. a service the partner does not offer: refused next to the field, the input kept
    Select(browser.find_element(By.ID, "service")).select_by_value("sgb2")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=save]"))
    error = browser.find_element(By.CSS_SELECTOR, '.error[data-field="service"]')
    assert f"{WELFARE} offers no service {words.service_name('sgb2', 'en')}" in error.text
    assert Select(browser.find_element(By.ID, "service")).first_selected_option \
        .get_attribute("value") == "sgb2"
    assert rule_service(staff, network) == "mbe"

    # 3. saved: a new version of the table
    Select(browser.find_element(By.ID, "service")).select_by_value("mbe_diakonie")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=save]"))
    assert "new version" in flash(browser)
    assert rule_service(staff, network) == "mbe_diakonie"
