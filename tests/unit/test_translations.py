"""The German catalogue covers every UI text, and the compiled catalogue is current."""
from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import REPO

CATALOGUES = REPO / "shared" / "translations"
METHODS = [("services/**.py", "python"), ("shared/**.py", "python"),
           ("services/**/templates/**.html", "jinja2"), ("shared/templates/**.html", "jinja2")]


def catalogue(lang: str, compiled: bool = False) -> dict[tuple[str | None, str], str]:
    path = CATALOGUES / lang / "LC_MESSAGES" / ("messages.mo" if compiled else "messages.po")
    with open(path, "rb") as handle:
        cat = read_mo(handle) if compiled else read_po(handle, locale=lang)
    return {(m.context, m.id): m.string for m in cat if m.id}


# gettext with and without a context (a vocabulary's or a page's), eager and lazy
KEYWORDS = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
            "pgettext": ((1, "c"), 2), "lazy_pgettext": ((1, "c"), 2)}


def ui_texts() -> set[tuple[str | None, str]]:
    found = extract_from_dir(str(REPO), METHODS, keywords=KEYWORDS,
                             options_map={"**.html": {"extensions": "jinja2.ext.i18n"}})
    return {(context, message) for _, _, message, _, context in found
            if isinstance(message, str)}


def test_every_ui_text_has_a_german_translation():
    german, texts = catalogue("de"), ui_texts()
    assert len(texts) > 100  # the extraction itself found the UI
    missing = sorted((t for t in texts if not german.get(t)), key=str)
    assert not missing, f"untranslated (run `make translations` and translate): {missing}"


def test_the_compiled_catalogue_matches_its_source():
    assert catalogue("de", compiled=True) == catalogue("de")
