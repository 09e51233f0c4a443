"""The words for codes (shared/words.py): every code a page may show has one, in German and
English; dates and times as the city reads them."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from flask import Flask
from flask_babel import Babel, force_locale

from services.intake import domain as intake_domain
from services.partner_adapter.domain import CaseStatus
from services.referral.domain import Outcome, Reason
from shared import words
from shared.auth import ROLES
from shared.bus.causes import ParkCause
from shared.events.contracts import ACCESS_ACTIONS
from shared.events.vocabulary import DeadlinePhase, ReferralStatus
from shared.partners import DIRECTORY
from shared.web import TRANSLATIONS

# Each vocabulary against the codes it names: a code added to an Enum or a tuple without a
# word fails here, not on a page.
COVERS = {
    "referral_status": set(ReferralStatus), "reason": set(Reason), "outcome": set(Outcome),
    "relation": set(intake_domain.RELATIONS), "urgency": set(intake_domain.URGENCIES),
    "interpreter": set(intake_domain.INTERPRETER), "channel": set(intake_domain.CHANNELS),
    "contact_channel": set(intake_domain.CONTACT_CHANNELS), "case_status": set(CaseStatus),
    "deadline_phase": set(DeadlinePhase), "access_action": set(ACCESS_ACTIONS),
    "park_cause": set(ParkCause), "role": set(ROLES),
}
# Codes whose German word is spelled like their English one
SAME_IN_GERMAN = {("urgency", "normal"), ("contact_channel", "sms")}


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app)
    with app.app_context():
        yield app


@pytest.mark.parametrize("vocabulary", sorted(COVERS))
def test_every_code_of_a_vocabulary_has_a_german_and_an_english_word(app, vocabulary):
    assert set(words.VOCABULARIES[vocabulary]) >= {str(c) for c in COVERS[vocabulary]}
    for code in COVERS[vocabulary]:
        with force_locale("de"):
            german = words.label(code, vocabulary, "de")
        with force_locale("en"):
            english = words.label(code, vocabulary, "en")
        assert german and english
        if (vocabulary, code) not in SAME_IN_GERMAN:
            assert german != english, f"{vocabulary} {code}: no German word"


def test_reference_lists_partners_and_services_are_named_in_both_languages():
    assert words.label("living_costs", "need", "de") == "Geld für den Lebensunterhalt"
    assert words.label("living_costs", "need", "en") == "Money for living costs"
    assert words.label("TEMP_PROTECTION_24", "residence_status", "de").startswith(
        "Vorübergehender Schutz")
    for partner in DIRECTORY.values():
        assert words.label(partner.code, "partner", "de") == partner.name
        assert words.label(partner.code, "partner", "en") == partner.name_en
        for service in partner.services:
            assert words.label(service.code, "service", "en") == service.name_en


def test_a_code_without_a_word_shows_itself_and_nothing_shows_nothing(app):
    assert words.label("no_such_code", "reason", "de") == "no_such_code"
    assert words.label(None, "reason", "de") == ""
    assert words.label("nobody", "partner", "de") == "nobody"


def test_dates_are_written_as_the_ui_language_writes_them():
    assert words.city_date("1987-03-14", "de") == "14.03.1987"
    assert words.city_date(date(1987, 3, 14), "en") == "Mar 14, 1987"
    # a moment late on the 7th in UTC is the 8th in the city
    assert words.city_date(datetime(2026, 12, 7, 23, 30, tzinfo=timezone.utc), "de") == \
        "08.12.2026"


def test_times_are_the_citys_wall_clock_in_the_ui_language():
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=timezone.utc)
    assert words.city_datetime(summer, "de") == "Mi. 01.07.2026 12:00"
    assert words.city_datetime(summer, "en") == "Wed 1 Jul 2026 12:00"
    winter = "2026-12-07T19:00:00+00:00"
    assert words.city_datetime(winter, "de", weekday=False) == "07.12.2026 20:00"


def test_a_select_offers_codes_with_their_words_in_order(app):
    with force_locale("de"):
        assert words.choices("urgency", "de")[-1] == ("urgent", "dringend")
    assert words.choices("site", "de")[0] == ("infopoint", "Infopoint")


def test_a_date_is_typed_as_germans_write_it_and_shown_so_for_typing_over():
    assert words.typed_date("14.03.1987") == words.typed_date("14031987") == date(1987, 3, 14)
    assert words.typed_date("4.3.1987") == date(1987, 3, 4)
    assert words.typed_date("1987-03-14") == date(1987, 3, 14)
    assert words.typed_date("31.02.1987") is None and words.typed_date("Olena") is None
    assert words.form_date("1987-03-14") == words.form_date(date(1987, 3, 14)) == "14.03.1987"


def test_a_country_or_language_is_typed_by_its_name_in_either_language_or_by_its_code():
    assert words.code_for("Ukraine", "country") == words.code_for("ua", "country") == "UA"
    assert words.code_for("türkei", "country") == words.code_for("Turkei", "country") == "TR"
    assert words.code_for("Ukrainisch", "language") == words.code_for("uk", "language") == "uk"
    assert words.code_for("Dari", "language") == "prs"
    assert words.code_for("Atlantis", "country") is None
    assert words.picker_options("language", "de")[:2] == ("Ukrainisch", "Russisch")
