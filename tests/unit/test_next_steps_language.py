"""The language of the visitor's sheet: the one asked for, else the person's, where the sheet
has words for it (a narrower code reads its language's catalogue), else English."""
from __future__ import annotations

from types import SimpleNamespace

from services.intake.next_steps import sheet_languages, visitor_language


def person(main: str | None, *languages: str):
    return SimpleNamespace(main_language=main, languages=list(languages))


def test_the_centres_languages_have_a_sheet():
    assert {"uk", "ru", "ar", "fa", "ps", "tr", "ro", "bg", "pl", "sq", "ku", "ti", "so",
            "en"} <= set(sheet_languages())


def test_kurmanji_and_dari_read_the_kurdish_and_persian_sheets():
    assert visitor_language(person("kmr"), None) == "ku"
    assert visitor_language(person("prs"), None) == "fa"


def test_asked_first_then_the_persons_languages_then_english():
    assert visitor_language(person("uk", "ru"), "ti") == "ti"
    assert visitor_language(person("xx", "yy", "ru"), None) == "ru"
    assert visitor_language(person(None, "am"), None) == "en"
