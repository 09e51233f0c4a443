"""The web UIs in headless Chromium against the embedded network: staff, partner, operator.

Each test drives a fresh browser through the real forms and pages served over HTTP by the
`network` fixture. Waiting is done with WebDriverWait only; there are no fixed sleeps.
"""
from __future__ import annotations

import os
import re

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import SMOKE_INTAKE, in_ci
from tests.e2e.client import LotseClient

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--window-size=1280,1000")
WAIT_SECONDS = 15
RECEIVED_OR_ACCEPTED = {"received", "accepted"}
PAGE_STATUS_JS = "return performance.getEntriesByType('navigation')[0].responseStatus;"
NEW_PAGE_LOADED_JS = "return !window.lotseOldPage && document.readyState === 'complete';"


@pytest.fixture
def browser(tmp_path):
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(binary):
            message = f"{binary} is not installed (`make services` installs it)"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


# -- helpers ---------------------------------------------------------------------------------

def wait_for(browser: WebDriver, condition, message: str, timeout: float = WAIT_SECONDS):
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(condition, message)


def submit(browser: WebDriver) -> None:
    """Submit the page's form and wait until the answer (after any redirects) has loaded.

    The old page is marked on its `window`, not held as an element: asking chromedriver
    about an element while its document unloads can fail with a generic error.
    """
    browser.execute_script("window.lotseOldPage = true;")
    browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2,
                  ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script(NEW_PAGE_LOADED_JS), "the answer to the form loaded")


def log_in(browser: WebDriver, base: str, username: str, password: str = "demo") -> None:
    if "/login" not in browser.current_url:
        browser.get(f"{base}/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    submit(browser)


def page_status(browser: WebDriver) -> int:
    """HTTP status of the document currently shown (Navigation Timing)."""
    return browser.execute_script(PAGE_STATUS_JS)


def fill_intake_form(browser: WebDriver, nationality: str = "UA") -> None:
    """The smoke intake (Olena Kovalenko) typed into /intakes/new like a staff member would."""
    person, consent = SMOKE_INTAKE["person"], SMOKE_INTAKE["consent"]
    browser.find_element(By.ID, "given_name").send_keys(person["given_name"])
    browser.find_element(By.ID, "family_name").send_keys(person["family_name"])
    birth_date = browser.find_element(By.ID, "birth_date")
    # typing into a date input depends on the locale's field order; setting the value doesn't
    browser.execute_script("arguments[0].value = arguments[1];", birth_date,
                           person["birth_date"])
    browser.find_element(By.ID, "nationality").send_keys(nationality)
    browser.find_element(By.ID, "languages").send_keys(", ".join(person["languages"]))
    Select(browser.find_element(By.ID, "residence_status")).select_by_value(
        SMOKE_INTAKE["residence_status"])
    Select(browser.find_element(By.ID, "site")).select_by_value(SMOKE_INTAKE["site"])
    for need in SMOKE_INTAKE["needs"]:
        browser.find_element(By.CSS_SELECTOR, f"input[name=needs][value={need}]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=share_with_partners]").click()
    Select(browser.find_element(By.ID, "consent_method")).select_by_value(consent["method"])
    browser.find_element(By.ID, "consent_language").send_keys(consent["language"])


ROW_STATE_JS = """
const row = document.querySelector(`tr[data-intake="${arguments[0]}"]`);
if (!row) return null;
return {stale: row.dataset.testStale === "1",
        statuses: [...row.querySelectorAll(".status")].map(s => s.textContent.trim())};
"""


def row_state(browser: WebDriver, intake_id: str) -> dict | None:
    """One intake's row of the list, read atomically (the rows are replaced every 3 s)."""
    return browser.execute_script(ROW_STATE_JS, intake_id)


# -- staff -----------------------------------------------------------------------------------

def test_staff_records_an_intake_and_watches_its_referrals_arrive(network, browser):
    log_in(browser, network, "staff")
    browser.find_element(By.LINK_TEXT, "New intake").click()
    wait_for(browser, lambda b: b.find_elements(By.ID, "given_name"), "the intake form")
    fill_intake_form(browser)
    submit(browser)

    match = re.search(r"/intakes/([0-9a-f-]{36})$", browser.current_url)
    assert match, f"not on a detail page: {browser.current_url}"
    intake_id = match.group(1)
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Intake ")
    assert "Olena Kovalenko" in browser.find_element(By.TAG_NAME, "main").text
    assert browser.find_element(By.CSS_SELECTOR, ".flash").text.startswith("Intake recorded")

    browser.get(f"{network}/intakes")
    assert row_state(browser, intake_id) is not None, "the new intake is not listed"
    # mark the server-rendered row: only the page's own refresh can replace it
    browser.execute_script(
        "document.querySelector(`tr[data-intake=\"${arguments[0]}\"]`).dataset.testStale = '1';",
        intake_id)

    def referred(b):
        state = row_state(b, intake_id)
        return (state and not state["stale"] and len(state["statuses"]) == 3
                and set(state["statuses"]) <= RECEIVED_OR_ACCEPTED and state)

    state = wait_for(browser, referred, "three received/accepted referrals in the live list")
    assert len(state["statuses"]) == 3


def test_an_invalid_nationality_is_shown_next_to_the_field_and_the_input_is_kept(network,
                                                                               browser):
    log_in(browser, network, "staff")
    browser.get(f"{network}/intakes/new")
    fill_intake_form(browser, nationality="Ukraine")
    submit(browser)

    assert browser.current_url.endswith("/intakes/new")
    assert page_status(browser) == 422
    assert browser.find_element(By.TAG_NAME, "h1").text == "New intake"
    error = browser.find_element(
        By.XPATH, "//input[@id='nationality']/following-sibling::div[contains(@class,'error')]")
    assert "ISO 3166-1" in error.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "main .error")) == 1, "other errors shown"
    assert browser.find_element(By.ID, "given_name").get_attribute("value") == "Olena"
    assert browser.find_element(By.ID, "family_name").get_attribute("value") == "Kovalenko"
    assert browser.find_element(By.ID, "birth_date").get_attribute("value") == "1987-03-14"
    checked = {e.get_attribute("value")
               for e in browser.find_elements(By.CSS_SELECTOR, "input[name=needs]:checked")}
    assert checked == set(SMOKE_INTAKE["needs"])


def test_the_intake_list_needs_a_login_and_only_the_right_password_opens_it(network, browser):
    browser.get(f"{network}/intakes")
    assert "/login" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Log in to Lotse"
    assert not browser.find_elements(By.ID, "rows")

    log_in(browser, network, "staff", password="not-the-password")
    assert "/login" in browser.current_url
    assert page_status(browser) == 401
    assert "wrong password" in browser.find_element(By.CSS_SELECTOR, "p.error").text
    assert not browser.find_elements(By.ID, "rows")

    browser.find_element(By.ID, "username").clear()
    log_in(browser, network, "staff")
    assert browser.current_url == f"{network}/intakes"
    assert browser.find_elements(By.ID, "rows")


# -- partner and operator --------------------------------------------------------------------

def test_a_partner_sees_only_its_own_cases(network, browser):
    client = LotseClient(network)
    intake = client.post_intake(SMOKE_INTAKE)
    refs = client.wait_referred(intake["id"], 3, timeout=WAIT_SECONDS)
    [welfare_ref] = [r["partner_case_ref"] for r in refs if r["partner"] == "welfare"]
    assert re.fullmatch(r"WF-\d{4}-[0-9A-F]+", welfare_ref)

    log_in(browser, network, "welfare")
    wait_for(browser, lambda b: b.current_url.endswith("/partner/cases"), "the partner's cases")
    rows = browser.find_elements(By.CSS_SELECTOR, "main tbody tr")
    assert len(rows) == 1
    cells = [td.text for td in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[0] == intake["reference"]
    assert "Olena Kovalenko" in cells[1]
    assert "welfare /" in cells[2]
    assert cells[4] == welfare_ref
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "JC-" not in page and "BD-" not in page


def test_an_operator_sees_the_event_flow_of_the_three_services(network, browser):
    LotseClient(network).post_intake(SMOKE_INTAKE)
    log_in(browser, network, "operator")
    wait_for(browser, lambda b: b.current_url.endswith("/ops"), "the operator's event flow")

    wait_for(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#flow .card")) == 3,
             "three service cards rendered by the page's script")
    texts = browser.execute_script(
        "return [...document.querySelectorAll('#flow .card')].map(c => c.innerText);")
    assert [t.split()[0] for t in texts] == ["intake", "referral", "partner_adapter"]
    for text in texts:
        assert "unreachable" not in text
        assert re.search(r"Outbox: \d+ pending, \d+ sent", text), text
    intake_card = texts[0]
    sent = int(re.search(r"(\d+) sent", intake_card).group(1))
    pending = int(re.search(r"Outbox: (\d+) pending", intake_card).group(1))
    assert sent + pending >= 1, "the posted intake's event is not counted"
