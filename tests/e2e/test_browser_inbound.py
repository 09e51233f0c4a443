"""A partner's referral to the centre (issue 22, item 5), in the browser: the demo's
registration office referred Olena Bondarenko; staff find her from the intake list, invite
her, start her intake from the referral (the form filled in), record it, and the registration
office reads that she came."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.e2e import test_browser
from tests.e2e.test_browser import PERSON_URL, Typist, flash, log_in, submit, tick_consent

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

browser = test_browser.browser  # the headless Chromium fixture (English UI)


def _row_link(browser, name: str):
    return browser.find_element(By.XPATH, f'//table//a[bdi[normalize-space()="{name}"]]')


def test_a_referral_from_the_registration_office_is_invited_taken_in_and_heard_back(
        network, browser):
    log_in(browser, network, "staff")
    browser.get(f"{network}/intakes")
    browser.get(browser.find_element(By.CSS_SELECTOR, "#inbound-waiting a").get_attribute("href"))
    assert "Bürgerdienste" in browser.find_element(By.ID, "inbound-referrals").text
    browser.get(_row_link(browser, "Olena Bondarenko").get_attribute("href"))
    assert "German / integration course" in browser.find_element(By.TAG_NAME, "main").text

    typist = Typist(browser)
    typist.type("#inv-date", "16.03.2030")
    browser.execute_script("arguments[0].value = '10:30';", browser.find_element(By.ID, "inv-time"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "#invite button[type=submit]"))
    assert flash(browser) == "The person is invited."
    assert "invited" in browser.find_element(By.ID, "inbound-status").text
    assert "2030" in browser.find_element(By.TAG_NAME, "main").text  # the appointment

    browser.get(browser.find_element(By.ID, "start-intake").get_attribute("href"))
    assert browser.find_element(By.ID, "given_name").get_attribute("value") == "Olena"
    assert browser.find_element(By.ID, "need-language_course").is_selected()
    tick_consent(Typist(browser), "routed")
    submit(browser)
    assert PERSON_URL.search(browser.current_url), browser.current_url
    assert flash(browser).startswith("Intake LT-")

    browser.get(f"{network}/inbound-referrals?status=arrived")
    assert _row_link(browser, "Olena Bondarenko")
    submit(browser, browser.find_element(By.ID, "logout"))

    log_in(browser, network, "registration")
    browser.get(f"{network}/sent-referrals")
    rows = browser.find_element(By.ID, "sent-referrals").text
    assert "Olena Bondarenko" in rows and "arrived: consultation recorded" in rows
    assert "Samir Haddad" in rows and "invited" in rows
