"""The reports dashboard in headless Chromium: management logs in, lands on /reports, and
the review's table counts the consultations just recorded (through the event flow), the
queue's section the walk-in ticket just served; the trend is drawn; the CSV download has its
header row."""
from __future__ import annotations

import copy

import pytest
from selenium.webdriver.common.by import By

from services.reporting.domain import city_day
from shared.clock import utcnow
from tests.conftest import OLENA
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser  # the headless Chromium fixture (English UI)


def review(browser) -> list[list[str]]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#review tbody tr, #review tfoot tr')]"
        ".map(r => [...r.cells].map(c => c.innerText.trim()));")


def test_management_sees_the_consultations_just_recorded_in_the_reviews_table(network,
                                                                              browser):
    staff = LotseClient(network)
    staff.post_intake(copy.deepcopy(OLENA))  # UA, info point
    other = copy.deepcopy(OLENA)
    other.update(site="centre", person={**other["person"], "nationality": "SY",
                                        "given_name": "Ahmad", "languages": ["ar"]})
    staff.post_intake(other)
    drawn = staff.http.post(f"{network}/api/v1/queue/tickets", timeout=10, json={
        "site": "centre", "language": "uk", "topic": "housing"})
    assert drawn.status_code == 201, drawn.text
    for step in ("call", "served"):
        answer = staff.http.post(f"{network}/api/v1/queue/tickets/{drawn.json()['id']}/{step}",
                                 json={} if step == "served" else None, timeout=10)
        assert answer.status_code == 200, answer.text
    log_in(browser, network, "management")
    wait_for(browser, lambda b: "/reports" in b.current_url, "the dashboard after login")

    def counted(b):
        b.get(f"{network}/reports")
        return review(b) if review(b) and review(b)[-1][-1] == "2" else None
    rows = wait_for(browser, counted, "both consultations counted")
    assert ["Info point", "1", "0", "1"] in rows and ["Service centre", "0", "1", "1"] in rows

    def queue(b):
        b.get(f"{network}/reports")
        found = b.execute_script(
            "return [...document.querySelectorAll('#queue-by-site tbody tr')]"
            ".map(r => [...r.cells].map(c => c.innerText.trim()));")
        return found or None
    [centre] = wait_for(browser, queue, "the ticket counted")
    assert centre[:4] == ["Service centre", "1", "1", "0"]
    chart = browser.find_element(By.CSS_SELECTOR, "#trend svg")
    assert chart.get_attribute("role") == "img"
    assert browser.find_elements(By.CSS_SELECTOR, "#trend svg rect")

    today = city_day(utcnow()).isoformat()
    management = LotseClient(network, "management")
    answer = management.http.get(f"{network}/api/v1/reports/consultations?from={today}"
                                 f"&to={today}&by=site,nationality_group&format=csv",
                                 timeout=10)
    assert answer.status_code == 200
    assert answer.text.splitlines() == ["site,nationality_group,consultations",
                                        "centre,other,1", "infopoint,UA,1"]
