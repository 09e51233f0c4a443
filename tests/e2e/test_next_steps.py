"""The visitor's sheet, "your next steps" (issue 20, item 5): each open referral with where to
go, when and what to bring, in the visitor's language beside German."""
from __future__ import annotations

import copy
import re

from babel.support import Translations

from shared.web import TRANSLATIONS
from tests.conftest import OLENA
from tests.e2e.client import LotseClient


def _in(lang: str, message: str, context: str | None = None) -> str:
    catalogue = Translations.load(str(TRANSLATIONS), [lang])
    return catalogue.pgettext(context, message) if context else catalogue.gettext(message)


def _sections(page: str) -> dict[str, str]:
    return {m.group(1): m.group(0) for m in
            re.finditer(r'<section lang="([a-z]+)".*?</section>', page, re.S)}


def test_the_sheet_tells_the_visitor_in_their_language_and_in_german_where_when_and_what(
        network):
    client = LotseClient(network)
    intake = copy.deepcopy(OLENA)
    intake["person"]["preferred_language"] = "uk"
    intake["person"]["household"] = [
        {"given_name": "Ivan", "family_name": "Kovalenko", "relation": "child",
         "birth_date": "2015-09-09"}]
    intake["needs"] = ["address_registration", "living_costs",
                       {"code": "school_place", "for_member": 0}]
    recorded = client.post_intake(intake)
    client.wait_referred(recorded["id"], 3, timeout=15)
    answer = client.http.get(f"{network}/persons/{recorded['person_id']}/next-steps",
                             timeout=10)
    assert answer.status_code == 200
    sections = _sections(answer.text)
    assert set(sections) == {"uk", "de"}
    uk, de = sections["uk"], sections["de"]
    title = _in("uk", "Your next steps")
    assert title != "Your next steps" and title in uk
    assert "Ihre nächsten Schritte" in de
    # each need in the visitor's words, the child's need naming the child
    for need in ("Address registration", "Money for living costs",
                 "School place (newly arrived)"):
        assert _in("uk", need, "need") in uk
    assert "Schulplatz (neu zugewandert) · für <bdi translate=\"no\">Ivan</bdi>" in de
    # where: the registration office booked a slot (its place and time), the Jobcenter's
    # address and opening hours come from the directory
    assert "Bürgerdienste International, Dortmund" in de
    assert re.search(r"<strong>[A-Z][a-z]\. \d\d\.\d\d\.\d{4} \d\d:\d\d</strong>", de)
    assert "Steinstraße 39, 44147 Dortmund" in de and "Mo.–Fr. 08:00–12:30" in de
    # what to bring, per service, in both languages
    assert "Wohnungsgeberbestätigung" in de and "Kontoverbindung (IBAN)" in de
    assert _in("uk", "bank account details (IBAN)", "document") in uk
    # the partners' case references
    assert re.search(r"BD-[A-Z0-9-]+", de) and re.search(r"JC-[A-Z0-9-]+", de)


def test_the_sheet_is_right_to_left_for_arabic_and_english_where_it_has_no_words(network):
    client = LotseClient(network)
    intake = copy.deepcopy(OLENA)
    intake["person"]["languages"] = ["am"]  # Amharic: no catalogue (yet)
    recorded = client.post_intake(intake)
    client.wait_referred(recorded["id"], 3, timeout=15)
    url = f"{network}/persons/{recorded['person_id']}/next-steps"
    assert set(_sections(client.http.get(url, timeout=10).text)) == {"en", "de"}
    arabic = client.http.get(url, params={"lang": "ar"}, timeout=10).text
    assert '<section lang="ar" dir="rtl">' in arabic
    refused = client.http.get(url, params={"lang": "xx"}, timeout=10)
    assert refused.status_code == 400


def test_the_sheet_is_in_pashto_right_to_left_and_in_tigrinya_in_geez_script(network):
    client = LotseClient(network)
    intake = copy.deepcopy(OLENA)
    intake["person"]["languages"] = ["ps", "ti"]
    recorded = client.post_intake(intake)
    client.wait_referred(recorded["id"], 3, timeout=15)
    url = f"{network}/persons/{recorded['person_id']}/next-steps"
    # her first language, without asking: Pashto, right to left, in Arabic script
    pashto = _sections(client.http.get(url, timeout=10).text)
    assert set(pashto) == {"ps", "de"}
    assert pashto["ps"].startswith('<section lang="ps" dir="rtl">')
    title = _in("ps", "Your next steps")
    assert title in pashto["ps"] and re.search(r"[\u0600-\u06FF]", title)
    assert _in("ps", "Address registration", "need") in pashto["ps"]
    # Tigrinya on asking, left to right, in Ge'ez (Ethiopic) script
    tigrinya = _sections(client.http.get(url, params={"lang": "ti"}, timeout=10).text)
    assert tigrinya["ti"].startswith('<section lang="ti" dir="ltr">')
    title = _in("ti", "Your next steps")
    assert title in tigrinya["ti"] and re.search(r"[\u1200-\u137F]", title)
    assert _in("ti", "Address registration", "need") in tigrinya["ti"]
