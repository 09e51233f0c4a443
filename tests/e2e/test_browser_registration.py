"""The registration office books an appointment; staff see the slot on the person page and
print the pre-filled registration form (headless Chromium).

Registering an address needs the person in person (§ 17 BMG), so Lotse does not open a
remote case: the sandbox registration office answers the appointment request with a slot,
which travels back as partner_case.opened -> referral.status_changed to the intake service.
"""
from __future__ import annotations

import copy
import re
from datetime import datetime

import pytest
from selenium.webdriver.common.by import By

from shared.clock import CITY_TIME
from shared import words
from tests.conftest import OLENA
from tests.e2e import test_browser
from tests.e2e.client import LotseClient
from tests.e2e.test_browser import log_in, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
browser = test_browser.browser


def test_the_booked_slot_shows_on_the_person_page_with_a_prefilled_form(network, browser):
    client = LotseClient(network)
    intake = copy.deepcopy(OLENA)
    intake["needs"] = ["address_registration"]
    intake["person"]["contact"] = {"address": {"street": "Mallinckrodtstraße 1",
                                               "postcode": "44145", "city": "Dortmund"}}
    intake["person"]["household"] = [{"given_name": "Maria", "family_name": "Kovalenko",
                                      "relation": "child", "birth_date": "2021-06-01"}]
    posted = client.post_intake(intake)
    [ref] = client.wait_referred(posted["id"], 1, timeout=15)
    assert ref["partner"] == "registration" and ref["appointment"], ref
    starts = datetime.fromisoformat(ref["appointment"]["starts_at"]).astimezone(CITY_TIME)
    assert starts.weekday() < 5 and 8 <= starts.hour < 15  # a working day, office hours

    log_in(browser, network, "staff")
    browser.get(f"{network}/persons/{posted['person_id']}")
    slot = wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#referrals .appointment"),
                    "the booked appointment on the person page")[0]
    assert words.city_datetime(starts, "en") in slot.text  # the city's time, in the UI's words
    assert "Bürgerdienste International, Dortmund" in slot.text  # not an EU citizen
    assert "must come in person" in slot.text

    slot.find_element(By.LINK_TEXT, "Pre-filled registration form").click()
    wait_for(browser, lambda b: "/registration-form/" in b.current_url, "the form")
    form = browser.find_element(By.ID, "form").text
    for expected in ("Kovalenko", "Olena", "14.03.1987", "Ukraine", "Mallinckrodtstraße 1",
                     "44145 Dortmund", "Maria Kovalenko", "child", "01.06.2021"):
        assert expected in form, expected
    appointment = browser.find_element(By.ID, "appointment").text
    assert words.city_datetime(starts, "en") in appointment
    assert re.search(r"Wohnungsgeberbestätigung", appointment)  # what to bring
    assert "§ 17 BMG" in appointment


def test_a_form_for_a_referral_without_an_appointment_is_not_found(network, browser):
    client = LotseClient(network)
    posted = client.post_intake(OLENA)
    refs = client.wait_referred(posted["id"], 3, timeout=15)
    welfare = next(r for r in refs if r["partner"] == "welfare")
    log_in(browser, network, "staff")
    browser.get(f"{network}/persons/{posted['person_id']}/registration-form/"
                f"{welfare['referral_id']}")
    assert browser.find_element(By.TAG_NAME, "h1").text != "Anmeldung einer Wohnung"
    assert not browser.find_elements(By.ID, "form")
