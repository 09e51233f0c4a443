"""The web UIs in headless Chromium against the embedded network: staff, partner, operator.

Each test drives a fresh browser through the real forms and pages served over HTTP by the
`network` fixture. Waiting is done with WebDriverWait only; there are no fixed sleeps. The
person page is rendered on the server, so waiting for a referral to move on means loading
the page again until it shows the new status.

The first test is the acceptance test of the counter workflow: a returning visitor typed in
Cyrillic is recognised, the earlier record is reused, and the visit is recorded by keyboard.
It also measures that scripted input (keystrokes, seconds) into bench/results.
"""
from __future__ import annotations

import json
import os
import re
import time
from datetime import date, timedelta

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as expected
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.conftest import REPO, OLENA, in_ci
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
REFERENCE = re.compile(r"LT-\d{4}-[A-Z0-9]{6}")
PERSON_URL = re.compile(r"/persons/([0-9a-f-]{36})$")
TIMING_FILE = REPO / "bench" / "results" / "intake_timing.json"
TARGET_SECONDS = 90


def start_chromium(tmp_path, language: str = "en-US", needs: tuple[str, ...] = ()) -> WebDriver:
    """Headless Chromium asking for pages in `language` (the UI follows the browser's
    language); fails in CI, skips elsewhere, when it or a file in `needs` is missing."""
    for needed in (CHROMIUM, CHROMEDRIVER, *needs):
        if not os.path.exists(needed):
            message = f"{needed} is not installed (`make services` installs it)"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.add_argument(f"--lang={language}")
    options.add_experimental_option("prefs", {
        "intl.accept_languages": f"{language},{language.split('-')[0]}"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


@pytest.fixture
def browser(tmp_path):
    driver = start_chromium(tmp_path)
    yield driver
    driver.quit()


# -- helpers: waiting, submitting, logging in ----------------------------------------------------

def wait_for(browser: WebDriver, condition, message: str, timeout: float = WAIT_SECONDS):
    # a page that redraws part of itself may replace an element between finding and reading
    # it: that poll is retried, not failed
    return WebDriverWait(browser, timeout, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, message)


def wait_for_new_page(browser: WebDriver) -> None:
    WebDriverWait(browser, WAIT_SECONDS, poll_frequency=0.2,
                  ignored_exceptions=(WebDriverException,)).until(
        lambda b: b.execute_script(NEW_PAGE_LOADED_JS), "the answer to the form loaded")


def submit(browser: WebDriver, button: WebElement | None = None) -> None:
    """Submit a form (the page's first one by default) and wait until the answer (after any
    redirects) has loaded.

    The old page is marked on its `window`, not held as an element: asking chromedriver
    about an element while its document unloads can fail with a generic error.
    """
    button = button or browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]")
    browser.execute_script("window.lotseOldPage = true;")
    button.click()
    wait_for_new_page(browser)


def log_in(browser: WebDriver, base: str, username: str, password: str = "demo") -> None:
    if "/login" not in browser.current_url:
        browser.get(f"{base}/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(password)
    submit(browser)


def page_status(browser: WebDriver) -> int:
    """HTTP status of the document currently shown (Navigation Timing)."""
    return browser.execute_script(PAGE_STATUS_JS)


def flash(browser: WebDriver) -> str:
    return browser.find_element(By.CSS_SELECTOR, ".flash").text


# -- helpers: the intake form ----------------------------------------------------------------

SET_DATE_JS = """
arguments[0].value = arguments[1];
arguments[0].dispatchEvent(new Event('input', {bubbles: true}));
arguments[0].dispatchEvent(new Event('change', {bubbles: true}));
"""


class Typist:
    """Fills forms the way staff at the counter would, counting what the input costs.

    Keystrokes are the characters typed plus special keys (Tab, Ctrl, Enter). A date counts
    as the 8 digits typed into a date field (DDMMYYYY); it is set through its value because
    typing into a date input depends on the browser locale's field order. Ticking a box,
    choosing from a list or following a link counts as a click.
    """

    def __init__(self, browser: WebDriver):
        self.browser = browser
        self.keystrokes = 0
        self.clicks = 0

    def element(self, target: str | WebElement) -> WebElement:
        if isinstance(target, WebElement):
            return target
        return self.browser.find_element(By.CSS_SELECTOR, target)

    def type(self, target: str | WebElement, *keys: str) -> None:
        """Type into a field (clearing nothing); special keys may follow the text."""
        self.element(target).send_keys(*keys)
        self.keystrokes += sum(len(k) for k in keys)

    def date(self, target: str | WebElement, iso: str) -> None:
        self.browser.execute_script(SET_DATE_JS, self.element(target), iso)
        self.keystrokes += 8

    def tick(self, target: str | WebElement) -> None:
        self.element(target).click()
        self.clicks += 1

    def choose(self, target: str | WebElement, text: str) -> None:
        """Pick the option with this value or text; no cost if it is already selected."""
        select = Select(self.element(target))
        if text in (select.first_selected_option.get_attribute("value"),
                    select.first_selected_option.text):
            return
        try:
            select.select_by_value(text)
        except WebDriverException:
            select.select_by_visible_text(text)
        self.clicks += 1

    def submit_with_ctrl_enter(self) -> None:
        """Ctrl+Enter in the focused field, then wait for the answer to load."""
        self.browser.execute_script("window.lotseOldPage = true;")
        self.type(self.browser.switch_to.active_element, Keys.CONTROL, Keys.ENTER)


def fill_person(typist: Typist, person: dict) -> None:
    """The person block of a new intake, typed field by field."""
    typist.type("#given_name", person["given_name"], Keys.TAB)
    typist.type("#family_name", person["family_name"], Keys.TAB)
    typist.date("#birth_date", person["birth_date"])
    typist.type("#nationality", person["nationality"])
    typist.type("#languages", ", ".join(person["languages"]), Keys.TAB)


def add_household_member(typist: Typist, row: int, given: str, family: str, relation: str,
                         birth_date: str) -> None:
    if not typist.element(f"input[name=hh-{row}-given_name]").is_displayed():
        typist.tick("#more-household")  # the form shows one row more at a time
    typist.type(f"input[name=hh-{row}-given_name]", given, Keys.TAB)
    typist.type(f"input[name=hh-{row}-family_name]", family, Keys.TAB)
    typist.choose(f"select[name=hh-{row}-relation]", relation)
    typist.date(f"input[name=hh-{row}-birth_date]", birth_date)


def tick_needs(typist: Typist, *needs: str, **urgency: str) -> None:
    for need in needs:
        typist.tick(f"#need-{need}")
    for need, level in urgency.items():
        typist.choose(f"select[name=urgency-{need}]", level)


def tick_consent(typist: Typist, *scopes: str, method: str = "signed_form") -> None:
    for scope in scopes:
        typist.tick(f"input[name=consent_scope][value={scope}]")
    typist.choose("#consent_method", method)


def record_new_intake(browser: WebDriver, base: str, person: dict, needs: tuple[str, ...],
                      scopes: tuple[str, ...] = (),
                      first_issued: str | None = None) -> tuple[str, str]:
    """A new person's intake through the form (with the residence document's first-issue
    date, if given); returns (person page URL, intake reference)."""
    browser.get(f"{base}/intakes/new")
    typist = Typist(browser)
    fill_person(typist, person)
    tick_needs(typist, *needs)
    if first_issued:
        typist.date("#first_issue_date", first_issued)
    if scopes:
        tick_consent(typist, *scopes)
    submit(browser)
    if not scopes and needs:  # the form asks first; staff confirm saving without a consent
        assert "No consent to share data is recorded" in browser.find_element(
            By.ID, "err-consent").text
        typist.tick("#without_consent")
        submit(browser)
    assert PERSON_URL.search(browser.current_url), f"not on a person page: {browser.current_url}"
    reference = REFERENCE.search(flash(browser))
    assert reference, flash(browser)
    return browser.current_url, reference.group(0)


# -- helpers: the person page ----------------------------------------------------------------

# the page shows words (in the browser's English); the codes behind them are in data-code
REFERRALS_JS = """
return [...document.querySelectorAll('#referrals tr.referral:not(.on-the-way)')].map(tr => ({
  consultation: tr.cells[0].textContent.trim(), need: tr.cells[1].dataset.code,
  partner: tr.cells[2].dataset.code || '—',
  status: tr.querySelector('.status').dataset.code,
  status_word: tr.querySelector('.status').textContent.trim(),
  reason: tr.cells[3].querySelector('.muted').dataset.code,
  case: tr.cells[4].textContent.trim()}));
"""
SECTION_ROWS_JS = """
const title = [...document.querySelectorAll('main h2, main .card > strong')]
  .find(h => h.textContent === arguments[0]);
const table = title && (title.tagName === 'H2' ? title.nextElementSibling
                                               : title.parentElement.querySelector('table'));
return table ? [...table.querySelectorAll('tbody tr')].map(
  tr => [...tr.cells].map(td => td.textContent.trim())) : [];
"""


def referrals(browser: WebDriver, reference: str | None = None) -> list[dict]:
    rows = browser.execute_script(REFERRALS_JS)
    return [r for r in rows if reference is None or r["consultation"] == reference]


def section_rows(browser: WebDriver, heading: str) -> list[list[str]]:
    """The cell texts of a table of the person page by its title (Household, Consents...)."""
    return browser.execute_script(SECTION_ROWS_JS, heading)


def wait_for_referrals(browser: WebDriver, url: str, reference: str, done, message: str
                       ) -> list[dict]:
    """Load the person page again until this consultation's referrals satisfy `done`."""
    def check(b):
        b.get(url)
        rows = referrals(b, reference)
        return rows if done(rows) else None
    return wait_for(browser, check, message)


def all_received(count: int):
    return lambda rows: (len(rows) == count and
                         all(r["status"] in RECEIVED_OR_ACCEPTED and r["case"] != "—"
                             for r in rows))


def by_partner(rows: list[dict]) -> dict[str, dict]:
    return {r["partner"]: r for r in rows}


def consent_row(browser: WebDriver, partner: str) -> WebElement:
    return browser.find_element(By.XPATH, "//h2[.='Consents']/following-sibling::div[1]//table"
                                          f"//tbody/tr[@data-partner='{partner}']")


# -- the counter workflow: a returning visitor -----------------------------------------------

def test_a_returning_visitor_typed_in_cyrillic_gets_a_new_visit_on_the_same_record(
        network, browser, capsys):
    earlier = LotseClient(network).post_intake(OLENA)
    person_id = earlier["person_id"]
    log_in(browser, network, "staff")

    # -- the form, as staff use it: timed and counted from opening it to Ctrl+Enter
    typist = Typist(browser)
    started = time.monotonic()
    typist.tick(browser.find_element(By.LINK_TEXT, "New intake"))
    wait_for(browser, lambda b: b.find_elements(By.ID, "given_name"), "the intake form")
    typist.type("#given_name", "Олена", Keys.TAB)
    typist.type("#family_name", "Коваленко", Keys.TAB)
    typist.date("#birth_date", "1987-03-14")

    def suggested(b):
        box = b.find_element(By.ID, "matches")
        found = [m for m in box.find_elements(By.CSS_SELECTOR, ".match")
                 if m.get_attribute("data-person") == person_id]
        return box.is_displayed() and found and found[0]

    def suggested_text(b):  # read in the same poll: the box is redrawn as typing settles
        found = suggested(b)
        return found.text if found else False

    match = wait_for(browser, suggested_text, "the earlier record suggested as a match")
    assert "Olena Kovalenko" in match
    assert "Mar 14, 1987" in match and "(Ukraine)" in match  # words, not codes

    def use_match(b):  # the box may be redrawn by a late answer; then find the link again
        try:
            found = suggested(b)
            if not found:
                return False
            link = found.find_element(By.LINK_TEXT, "Use this record")
            b.execute_script("window.lotseOldPage = true;")
            typist.tick(link)
            return True
        except StaleElementReferenceException:
            return False

    wait_for(browser, use_match, "the match's link followed")
    wait_for_new_page(browser)
    assert f"/intakes/new?person_id={person_id}" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "New visit"
    value = {name: browser.find_element(By.ID, name).get_attribute("value")
             for name in ("person_id", "given_name", "family_name", "birth_date",
                          "nationality", "languages", "consent_language",
                          "other_given_name", "other_family_name")}
    # the record's passport spelling, and the Cyrillic spelling typed kept as another one
    assert value == {"person_id": person_id, "given_name": "Olena",
                     "family_name": "Kovalenko", "birth_date": "14.03.1987",
                     "nationality": "Ukraine", "languages": "Ukrainian, Russian",
                     "consent_language": "Ukrainian", "other_given_name": "Олена",
                     "other_family_name": "Коваленко"}
    assert browser.find_element(By.ID, "matches").is_displayed() is False

    add_household_member(typist, 0, "Andrii", "Kovalenko", "spouse", "1985-07-02")
    add_household_member(typist, 1, "Sofiia", "Kovalenko", "child", "2014-09-01")
    add_household_member(typist, 2, "Maksym", "Kovalenko", "child", "2019-04-20")
    tick_needs(typist, "address_registration", "living_costs", "orientation_counselling",
               living_costs="high")
    # the form asks for what the routing rules read: since 1 July 2026 a § 24 holder's
    # living costs go by the permit's first-issue date (without it the referral would wait)
    hint = wait_for(browser, lambda b: b.find_element(By.ID, "asks-first_issue_date").text,
                    "the form asks for the first-issue date")
    assert "Lebensunterhalt" in hint or "living costs" in hint, hint
    assert browser.find_element(By.ID, "asks-arrival_date").text == ""
    typist.date("#first_issue_date", "2022-03-20")
    tick_consent(typist, "welfare", "jobcenter", method="signed_form")
    typist.type("#consent_version", "2026-01")
    typist.submit_with_ctrl_enter()
    seconds = time.monotonic() - started
    wait_for_new_page(browser)

    # -- the result: a second consultation on the earlier record
    assert len(browser.window_handles) == 1, "Ctrl+Enter opened the answer in another tab"
    assert browser.current_url == f"{network}/persons/{person_id}", browser.current_url
    reference = REFERENCE.search(flash(browser))
    assert reference and reference.group(0) != earlier["reference"], flash(browser)
    reference = reference.group(0)
    person_url = browser.current_url

    rows = wait_for_referrals(browser, person_url, reference, all_received(3),
                              "three referrals of the visit received or accepted")
    assert {r["need"]: r["partner"] for r in rows} == {
        "address_registration": "registration", "living_costs": "jobcenter",
        "orientation_counselling": "welfare"}
    case_prefix = {"registration": "BD-", "jobcenter": "JC-", "welfare": "WF-"}
    for row in rows:
        assert row["case"].startswith(case_prefix[row["partner"]]), row

    timeline = section_rows(browser, "Timeline")
    consultations = sorted(cells[3] for cells in timeline if cells[1] == "Consultation")
    assert consultations == sorted([earlier["reference"], reference])
    household = section_rows(browser, "Household")
    assert [(cells[0], cells[1]) for cells in household] == [
        ("Andrii Kovalenko", "spouse"), ("Sofiia Kovalenko", "child"),
        ("Maksym Kovalenko", "child")]
    assert [consent_row(browser, partner).find_element(By.XPATH, "td[4]").text
            for partner in ("welfare", "jobcenter")] == ["valid", "valid"]
    visit = next(c for c in LotseClient(network).http.get(
        f"{network}/api/v1/persons/{person_id}", timeout=10).json()["consultations"]
        if c["reference"] == reference)
    assert {n["code"]: n["urgency"] for n in visit["need_details"]} == {
        "address_registration": "normal", "living_costs": "high",
        "orientation_counselling": "normal"}

    # -- what the typical intake cost
    result = {"keystrokes": typist.keystrokes, "seconds": round(seconds, 2),
              "target_seconds": TARGET_SECONDS, "clicks": typist.clicks,
              "scenario": "returning visitor found by Cyrillic name; household of three, "
                          "three needs, consent for two partners; Ctrl+Enter"}
    TIMING_FILE.parent.mkdir(parents=True, exist_ok=True)
    TIMING_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    with capsys.disabled():
        print(f"\ntypical intake: {typist.keystrokes} keystrokes, {typist.clicks} clicks, "
              f"{seconds:.1f} s (target {TARGET_SECONDS} s; checked by bench/intake_timing.py)")


# -- the intake form: errors -----------------------------------------------------------------

NEW_PERSON = {"given_name": "Taras", "family_name": "Melnyk", "birth_date": "1980-05-05",
              "nationality": "UA", "languages": ["uk"]}


def intake_total(client: LotseClient) -> int:
    r = client.http.get(f"{client.base}/api/v1/intakes", timeout=10)
    r.raise_for_status()
    return r.json()["total"]


def test_a_household_member_born_in_the_future_is_shown_inline_and_nothing_is_recorded(
        network, browser):
    client = LotseClient(network)
    client.post_intake(OLENA)
    before = intake_total(client)
    future = (date.today() + timedelta(days=30)).isoformat()

    log_in(browser, network, "staff")
    browser.get(f"{network}/intakes/new")
    typist = Typist(browser)
    fill_person(typist, NEW_PERSON)
    add_household_member(typist, 0, "Mila", "Melnyk", "child", future)
    tick_needs(typist, "orientation_counselling")
    tick_consent(typist, "routed")
    submit(browser)

    assert browser.current_url.endswith("/intakes/new")
    assert page_status(browser) == 422
    assert browser.find_element(By.TAG_NAME, "h1").text == "New intake"
    errors = browser.find_elements(By.CSS_SELECTOR, "main .error")
    assert [e.get_attribute("data-field") for e in errors] == ["person.household.0.birth_date"]
    assert "future" in errors[0].text
    kept = {name: browser.find_element(By.NAME, name).get_attribute("value")
            for name in ("given_name", "family_name", "birth_date", "nationality", "languages",
                         "hh-0-given_name", "hh-0-family_name", "hh-0-birth_date",
                         "consent_language")}
    assert kept == {"given_name": "Taras", "family_name": "Melnyk", "birth_date": "1980-05-05",
                    "nationality": "UA", "languages": "uk", "hh-0-given_name": "Mila",
                    "hh-0-family_name": "Melnyk", "hh-0-birth_date": future,
                    "consent_language": "uk"}
    relation = Select(browser.find_element(By.NAME, "hh-0-relation"))
    assert relation.first_selected_option.text == "child"
    assert browser.find_element(By.ID, "need-orientation_counselling").is_selected()
    assert browser.find_element(
        By.CSS_SELECTOR, "input[name=consent_scope][value=routed]").is_selected()
    assert intake_total(client) == before, "the invalid intake was recorded"


def test_an_invalid_nationality_is_shown_next_to_the_field_and_the_input_is_kept(network,
                                                                               browser):
    log_in(browser, network, "staff")
    browser.get(f"{network}/intakes/new")
    typist = Typist(browser)
    fill_person(typist, {**OLENA["person"], "nationality": "Atlantis"})
    tick_needs(typist, *OLENA["needs"])
    tick_consent(typist, "routed")
    # Enter in a text field does not submit the half-filled form
    browser.execute_script("window.lotseOldPage = true;")
    typist.type("#given_name", Keys.ENTER)
    time.sleep(0.5)
    assert browser.execute_script("return window.lotseOldPage === true;"), "Enter submitted"
    submit(browser)

    assert browser.current_url.endswith("/intakes/new")
    assert page_status(browser) == 422
    errors = browser.find_elements(By.CSS_SELECTOR, "main .error")
    assert [e.get_attribute("data-field") for e in errors] == ["person.nationality"]
    assert "Unknown country" in errors[0].text and "Atlantis" in errors[0].text
    # the summary on top has the focus and links to the field, which points to its error
    assert browser.switch_to.active_element.get_attribute("id") == "error-summary"
    link = browser.find_element(By.CSS_SELECTOR, "#error-summary a")
    assert link.get_attribute("hash") == "#nationality" and "Atlantis" in link.text
    nationality = browser.find_element(By.ID, "nationality")
    assert nationality.get_attribute("aria-invalid") == "true"
    assert nationality.get_attribute("aria-describedby") == errors[0].get_attribute("id")
    link.click()
    assert browser.switch_to.active_element.get_attribute("id") == "nationality"
    assert browser.find_element(By.ID, "given_name").get_attribute("value") == "Olena"
    assert nationality.get_attribute("value") == "Atlantis"
    checked = {e.get_attribute("value")
               for e in browser.find_elements(By.CSS_SELECTOR, "input[name=needs]:checked")}
    assert checked == set(OLENA["needs"])


# -- consents on the person page -------------------------------------------------------------

def test_a_referral_without_consent_waits_until_staff_record_one(network, browser):
    log_in(browser, network, "staff")
    url, reference = record_new_intake(browser, network, NEW_PERSON,
                                       needs=("orientation_counselling",))

    [held] = wait_for_referrals(browser, url, reference,
                                lambda rows: len(rows) == 1 and rows[0]["status"] == "on-hold",
                                "the welfare referral on hold")
    assert (held["partner"], held["reason"], held["case"]) == ("welfare", "consent_missing", "—")
    assert section_rows(browser, "Consents") == [["No consents."]]

    typist = Typist(browser)
    typist.choose("#c-partner", "welfare")
    typist.choose("#c-method", "signed_form")
    assert browser.find_element(By.ID, "c-language").get_attribute("value") == "uk"
    submit(browser, browser.find_element(By.XPATH, "//button[.='Record consent']"))
    assert flash(browser).startswith("Consent recorded")
    assert consent_row(browser, "welfare").find_elements(By.XPATH, "td[4][.='valid']")

    [moved] = wait_for_referrals(browser, url, reference, all_received(1),
                                 "the welfare referral received once the consent is there")
    assert moved["partner"] == "welfare" and moved["case"].startswith("WF-")


def test_withdrawing_a_consent_cancels_the_referrals_that_relied_on_it(network, browser):
    log_in(browser, network, "staff")
    url, reference = record_new_intake(browser, network, NEW_PERSON,
                                       needs=("orientation_counselling", "living_costs"),
                                       scopes=("welfare", "jobcenter"),
                                       first_issued=OLENA["residence"]["first_issue_date"])
    wait_for_referrals(browser, url, reference, all_received(2),
                       "welfare and jobcenter referrals received")

    withdraw = consent_row(browser, "welfare").find_element(By.XPATH, ".//button[.='Withdraw']")
    submit(browser, withdraw)
    assert flash(browser).startswith("Consent withdrawn")
    state = consent_row(browser, "welfare").find_element(By.XPATH, "td[4]").text
    assert state.startswith("withdrawn"), state
    assert not consent_row(browser, "welfare").find_elements(By.XPATH, ".//button")
    assert consent_row(browser, "jobcenter").find_element(By.XPATH, "td[4]").text == "valid"

    rows = wait_for_referrals(
        browser, url, reference,
        lambda rows: by_partner(rows).get("welfare", {}).get("status") == "cancelled",
        "the welfare referral cancelled")
    welfare, jobcenter = by_partner(rows)["welfare"], by_partner(rows)["jobcenter"]
    assert welfare["reason"] == "consent_withdrawn"
    assert jobcenter["status"] in RECEIVED_OR_ACCEPTED, jobcenter
    kinds = [cells[1] for cells in section_rows(browser, "Timeline")]
    assert "Consent withdrawn" in kinds


# -- finding a person ------------------------------------------------------------------------

def test_a_person_is_found_by_a_cyrillic_name_and_by_the_intake_reference(network, browser):
    intake = LotseClient(network).post_intake(OLENA)
    log_in(browser, network, "staff")

    def search(query: str) -> list[str]:
        browser.find_element(By.LINK_TEXT, "Find a person").click()
        wait_for(browser, lambda b: b.find_elements(By.ID, "q"), "the search form")
        browser.find_element(By.ID, "q").send_keys(query)
        submit(browser)
        assert browser.find_element(By.ID, "q").get_attribute("value") == query
        return [a.text for a in browser.find_elements(By.CSS_SELECTOR, "main tbody td a")]

    assert search("Коваленко") == ["Olena Kovalenko"]
    assert search(intake["reference"]) == ["Olena Kovalenko"]
    assert search("Шевченко") == []
    assert "Nobody found." in browser.find_element(By.TAG_NAME, "main").text

    browser.get(f"{network}/persons?q=Коваленко")
    browser.find_element(By.LINK_TEXT, "Olena Kovalenko").click()
    wait_for(browser, lambda b: b.current_url.endswith(f"/persons/{intake['person_id']}"),
             "the person page")
    assert referrals(browser, intake["reference"])


# -- staff: the live list, login -------------------------------------------------------------

ROW_STATE_JS = """
const row = [...document.querySelectorAll('tr[data-intake]')]
  .find(tr => tr.cells[0].textContent.trim() === arguments[0]);
if (!row) return null;
return {stale: row.dataset.testStale === "1",
        statuses: [...row.querySelectorAll(".status")].map(s => s.textContent.trim())};
"""
MARK_ROW_STALE_JS = """
[...document.querySelectorAll('tr[data-intake]')]
  .find(tr => tr.cells[0].textContent.trim() === arguments[0]).dataset.testStale = '1';
"""


def row_state(browser: WebDriver, reference: str) -> dict | None:
    """One intake's row of the list, read atomically (the rows are replaced every 3 s)."""
    return browser.execute_script(ROW_STATE_JS, reference)


def test_staff_records_an_intake_and_watches_its_referrals_arrive(network, browser):
    log_in(browser, network, "staff")
    browser.find_element(By.LINK_TEXT, "New intake").click()
    wait_for(browser, lambda b: b.find_elements(By.ID, "given_name"), "the intake form")
    typist = Typist(browser)
    fill_person(typist, OLENA["person"])
    tick_needs(typist, *OLENA["needs"])
    typist.date("#first_issue_date", OLENA["residence"]["first_issue_date"])
    tick_consent(typist, "routed")
    submit(browser)

    assert PERSON_URL.search(browser.current_url), browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("Olena Kovalenko")
    assert flash(browser).startswith("Intake LT-")
    reference = REFERENCE.search(flash(browser)).group(0)

    browser.get(f"{network}/intakes")
    assert row_state(browser, reference) is not None, "the new intake is not listed"
    # mark the server-rendered row: only the page's own refresh can replace it
    browser.execute_script(MARK_ROW_STALE_JS, reference)

    def referred(b):
        state = row_state(b, reference)
        return (state and not state["stale"] and len(state["statuses"]) == 3
                and set(state["statuses"]) <= RECEIVED_OR_ACCEPTED and state)

    state = wait_for(browser, referred, "three received/accepted referrals in the live list")
    assert len(state["statuses"]) == 3


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
    intake = client.post_intake(OLENA)
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
    assert "Welfare associations (MBE/JMD) / " in cells[2]  # the partner and its service
    assert cells[4] == welfare_ref
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "JC-" not in page and "BD-" not in page


def test_the_ui_switches_to_german_and_back(browser, network):
    browser.get(network + "/login")
    browser.find_element(By.CSS_SELECTOR, 'header .langs a[lang="de"]').click()
    wait_for(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Bei Lotse anmelden",
             "the login page in German")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "de"
    browser.find_element(By.CSS_SELECTOR, 'header .langs a[lang="en"]').click()
    wait_for(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Log in to Lotse",
             "the login page in English again")


def test_the_api_docs_page_renders_the_openapi_document(browser, network):
    log_in(browser, network, "staff")
    browser.get(network + "/api/v1/docs")
    title = wait_for(browser, expected.visibility_of_element_located(
        (By.CSS_SELECTOR, ".swagger-ui .info .title")), "Swagger UI rendered the document")
    assert "Lotse intake API" in title.text
    wait_for(browser, lambda b: b.find_elements(
        By.XPATH, "//*[contains(@class,'opblock-summary-path') and "
                  "contains(., '/api/v1/persons/matches')]"), "the persons endpoints listed")


def test_a_referral_waiting_for_a_fact_is_routed_once_staff_record_it(network, browser):
    """The living costs of a § 24 permit holder wait for the permit's first-issue date;
    staff follow the person page's link to the consultation and record it there."""
    log_in(browser, network, "staff")
    url, reference = record_new_intake(browser, network, NEW_PERSON, needs=("living_costs",),
                                       scopes=("routed",))
    [held] = wait_for_referrals(browser, url, reference,
                                lambda rows: len(rows) == 1 and rows[0]["status"] == "on-hold",
                                "the living costs referral on hold")
    assert held["reason"] == "fact_missing"
    browser.find_element(By.CSS_SELECTOR, "#referrals a.add-facts").click()
    wait_for(browser, lambda b: b.find_elements(By.ID, "missing-facts"),
             "the consultation's form for the missing facts")
    Typist(browser).type("#first_issue_date", "20.03.2022")  # as German staff write it
    submit(browser, browser.find_element(By.XPATH, "//button[.='Record facts']"))
    assert flash(browser).startswith("Facts recorded")
    [moved] = wait_for_referrals(browser, url, reference, all_received(1),
                                 "the living costs referral at the Jobcenter")
    assert moved["partner"] == "jobcenter"


def test_switching_the_language_keeps_what_was_typed_into_the_form(network, browser):
    log_in(browser, network, "staff")
    browser.get(f"{network}/intakes/new")
    typist = Typist(browser)
    typist.type("#given_name", "Olena", Keys.TAB)
    typist.type("#family_name", "Kovalenko", Keys.TAB)
    add_household_member(typist, 0, "Ivan", "", "child", "09.09.2015")
    tick_needs(typist, "school_place")
    browser.find_element(By.CSS_SELECTOR, 'header .langs a[lang="de"]').click()
    wait_for(browser, lambda b: b.find_element(By.TAG_NAME, "h1").text == "Neue Aufnahme",
             "the form in German")
    value = {name: browser.find_element(By.ID, name).get_attribute("value")
             for name in ("given_name", "family_name", "hh-0-given_name", "hh-0-birth_date")}
    assert value == {"given_name": "Olena", "family_name": "Kovalenko",
                     "hh-0-given_name": "Ivan", "hh-0-birth_date": "09.09.2015"}
    assert browser.find_element(By.ID, "need-school_place").is_selected()
    assert Select(browser.find_element(By.ID, "hh-0-relation")).first_selected_option.text \
        == "Kind"
