"""A morning at the centre's walk-in queue (issue 22, item 1), in the browser: three visitors
draw tickets at the kiosk in three languages, without a login; staff call the next one they
speak the language of and serve it, call another and mark it not come; the waiting room's
display shows the number called without reloading, and never a language or a topic."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import flash, log_in, submit, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

browser = test_browser.browser  # the headless Chromium fixture (English UI)


def _row_button(browser, number: str, css: str):
    return browser.find_element(By.CSS_SELECTOR, f'tr[data-number="{number}"] button.{css}')


def _shown_numbers(browser) -> list[str]:
    return [e.get_attribute("data-number")
            for e in browser.find_elements(By.CSS_SELECTOR, "#numbers [data-number]")]


def _draw_at_the_kiosk(browser, kiosk_url: str, language: str) -> str:
    browser.get(kiosk_url)
    browser.find_element(By.CSS_SELECTOR, f'a[data-language="{language}"]').click()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "button[data-topic]"),
             "the topics")
    submit(browser, browser.find_element(By.CSS_SELECTOR, 'button[data-topic="housing"]'))
    return browser.find_element(By.ID, "ticket-number").text


def test_a_morning_at_the_walk_in_queue(network, browser):
    log_in(browser, network, "staff")  # the demo's staff speak English, Ukrainian, Russian
    browser.get(f"{network}/queue?site=centre")
    kiosk_url = browser.find_element(By.ID, "kiosk-link").get_attribute("href")
    display_url = browser.find_element(By.ID, "display-link").get_attribute("href")
    assert kiosk_url.rsplit("/", 1)[1] != display_url.rsplit("/", 1)[1]  # a key each
    submit(browser, browser.find_element(By.ID, "logout"))

    # the kiosk: no login; each language named in itself
    browser.get(kiosk_url)
    assert "українська" in browser.find_element(By.CSS_SELECTOR, 'a[data-language="uk"]').text
    numbers = [_draw_at_the_kiosk(browser, kiosk_url, lang) for lang in ("ar", "uk", "tr")]
    assert numbers == ["Z-001", "Z-002", "Z-003"]
    browser.refresh()  # the number's page again, no second ticket (the waiting list below)
    assert browser.find_element(By.ID, "ticket-number").text == "Z-003"
    assert "Z-003" not in browser.current_url

    # the waiting room's screen, in a tab of its own
    reception = browser.current_window_handle
    browser.switch_to.new_window("tab")
    browser.get(display_url)
    screen = browser.current_window_handle
    assert _shown_numbers(browser) == []
    browser.execute_script("window.lotseSamePage = true;")

    browser.switch_to.window(reception)
    log_in(browser, network, "staff")
    browser.get(f"{network}/queue?site=centre")
    waiting = [r.get_attribute("data-number")
               for r in browser.find_elements(By.CSS_SELECTOR, "#queue-rows tr[data-number]")]
    assert waiting == numbers
    submit(browser, browser.find_element(By.ID, "call-next"))
    # Arabic waited longest, but this desk speaks Ukrainian: Z-002 is theirs
    assert flash(browser) == "Ticket Z-002 called."

    browser.switch_to.window(screen)
    wait_for(browser, lambda b: _shown_numbers(b) == ["Z-002"], "Z-002 on the display")
    assert browser.execute_script("return window.lotseSamePage === true;"), "page reloaded"
    shown = browser.find_element(By.ID, "numbers").text
    assert "Z-001" not in shown and "Arab" not in shown and "hous" not in shown.lower()

    browser.switch_to.window(reception)
    submit(browser, _row_button(browser, "Z-002", "served"))
    assert flash(browser) == "Ticket Z-002 served."
    submit(browser, _row_button(browser, "Z-001", "call"))
    assert flash(browser) == "Ticket Z-001 called (Arabic): an interpreter is needed."
    assert "interpreter needed" in browser.find_element(
        By.CSS_SELECTOR, 'tr[data-number="Z-001"]').text

    browser.switch_to.window(screen)
    wait_for(browser, lambda b: _shown_numbers(b) == ["Z-001"], "Z-001 on the display")

    browser.switch_to.window(reception)
    submit(browser, _row_button(browser, "Z-001", "no-show"))
    assert flash(browser) == "Ticket Z-001: the visitor did not come."

    browser.switch_to.window(screen)
    wait_for(browser, lambda b: _shown_numbers(b) == [], "the display empty again")

    queue = LotseClient(network).http.get(f"{network}/api/v1/queue?site=centre",
                                          timeout=10).json()
    assert [(t["number"], t["language"], t["status"]) for t in queue["items"]] == [
        ("Z-003", "tr", "waiting")]
