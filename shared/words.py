"""The words people read for the codes Lotse keeps (issue 20, item 1).

Codes travel in events and stay in tables; a page shows each by its label in the UI's language
(German or English), never the code. Every vocabulary a page may show is named here; a code
without a word shows itself, which the crawl of every page (tests/e2e/test_words.py) finds.

Words of the reference lists (needs, residence statuses, sites, ...) come with the list
(shared.reference); the others are gettext messages with the vocabulary as their context, so
"received" of a referral and of a dead letter translate apart.
"""
from __future__ import annotations

import gettext
import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Mapping

import pycountry
from babel import Locale
from babel.dates import format_date, format_datetime
from flask_babel import lazy_pgettext, pgettext

from shared import reference
from shared.clock import CITY_TIME
from shared.partners import DIRECTORY


def _words(context: str, words: Mapping[str, str]) -> dict[str, Any]:
    return {code: lazy_pgettext(context, word) for code, word in words.items()}


# Statuses of a referral (FHIR Task codes), as staff, partners and operators read them.
REFERRAL_STATUS = _words("referral status", {
    "draft": "draft", "requested": "requested", "received": "received",
    "accepted": "accepted", "rejected": "rejected", "cancelled": "cancelled",
    "in-progress": "in progress", "on-hold": "on hold", "failed": "failed",
    "completed": "completed", "entered-in-error": "entered in error",
})
# Why a referral is rejected, cancelled, failed or on hold (services/referral/domain.Reason).
REASON = _words("reason", {
    "not_eligible": "not eligible", "no_capacity": "no capacity",
    "person_unreachable": "person unreachable", "wrong_partner": "not the partner's service",
    "duplicate": "duplicate", "consent_withdrawn": "consent withdrawn",
    "person_withdrew": "the person withdrew", "created_in_error": "created in error",
    "superseded": "superseded", "expired": "deadline passed",
    "delivery_failed": "delivery failed", "partner_refused_request": "the partner refused it",
    "no_matching_rule": "no routing rule fits", "fact_missing": "a fact is missing",
    "consent_missing": "consent missing", "prerequisite_pending": "waits for an earlier step",
    "waiting_for_person": "waits for the person", "partner_paused": "partner paused",
    "other": "other reason",
})
# What a completed referral achieved (services/referral/domain.Outcome).
OUTCOME = _words("outcome", {
    "counselling_started": "counselling started", "course_place_offered": "course place offered",
    "appointment_kept": "appointment kept", "application_filed": "application filed",
    "place_offered": "place offered", "case_closed": "case closed", "other": "other outcome",
})
RELATION = _words("relation", {
    "spouse": "spouse", "partner": "partner", "child": "child", "parent": "parent",
    "sibling": "sibling", "grandchild": "grandchild", "grandparent": "grandparent",
    "other": "other relative",
})
URGENCY = _words("urgency", {"low": "low", "normal": "normal", "high": "high",
                             "urgent": "urgent"})
INTERPRETER = _words("interpreter", {"none": "none needed", "on_site": "on site",
                                     "video": "by video"})
# How the consultation took place (intake channel).
CHANNEL = _words("channel", {"in_person": "in person", "phone": "by phone",
                             "video": "by video"})
CONTACT_CHANNEL = _words("contact channel", {"phone": "phone", "sms": "SMS", "email": "e-mail",
                                             "post": "letter", "in_person": "in person"})
# Where a partner's case stands in Lotse (services/partner_adapter/domain.CaseStatus).
CASE_STATUS = _words("case status", {"pending": "being delivered", "opened": "delivered",
                                     "failed": "delivery failed", "cancelled": "withdrawn"})
DEAD_LETTER_STATUS = _words("dead letter status", {"parked": "parked", "replayed": "replayed",
                                                   "discarded": "discarded"})
# Why a message was parked (shared/bus/causes.ParkCause); the detail stays technical.
PARK_CAUSE = _words("park cause", {
    "unreadable": "not a readable message",
    "contract": "does not match its event contract",
    "misrouted": "delivered to a service that does not handle it",
    "handler_failed": "processing failed (a program error or data it cannot take)",
    "database_refused": "the database refused the change",
    "gave_up": "still failing after every retry",
    "broker": "set aside by the broker (rejected, expired or queue full)",
    "unknown": "no reason given",
})
DEADLINE_PHASE = _words("deadline phase", {"acknowledgement": "acknowledgement",
                                           "completion": "completion"})
ACCESS_ACTION = _words("access action", {
    "viewed": "viewed", "listed": "listed", "created": "created", "changed": "changed",
    "merged": "merged", "unmerged": "merge undone", "consent_given": "consent given",
    "consent_withdrawn": "consent withdrawn", "exported": "exported", "erased": "erased",
    "answered": "answered",
})
# What a visitor brings to a partner (shared/partners.DOCUMENTS; the next-steps sheet)
DOCUMENT = _words("document", {
    "passport": "passport or identity card",
    "residence_document": "residence permit, provisional certificate or arrival certificate",
    "landlord_confirmation": "landlord's confirmation of moving in (Wohnungsgeberbestätigung)",
    "registration_certificate": "registration certificate (Meldebescheinigung)",
    "rental_contract": "rental contract", "bank_account": "bank account details (IBAN)",
    "income_proof": "proof of income and savings", "tax_id": "tax identification number",
    "birth_certificates": "birth certificates of the children",
    "vaccination_record": "vaccination record (measles protection)",
    "school_reports": "latest school reports", "biometric_photo": "a biometric passport photo",
    "admission_letter": "admission to the integration course (Berechtigungsschein)",
    "qualification_documents": "certificates and diplomas",
})
ROLE = _words("role", {"staff": "staff", "partner": "partner", "operator": "operator",
                       "admin": "administrator", "management": "management",
                       "service": "Lotse service"})

VOCABULARIES: dict[str, Mapping[str, Any]] = {
    "referral_status": REFERRAL_STATUS, "reason": REASON, "outcome": OUTCOME,
    "relation": RELATION, "urgency": URGENCY, "interpreter": INTERPRETER, "channel": CHANNEL,
    "contact_channel": CONTACT_CHANNEL, "case_status": CASE_STATUS,
    "dead_letter_status": DEAD_LETTER_STATUS, "park_cause": PARK_CAUSE,
    "deadline_phase": DEADLINE_PHASE, "access_action": ACCESS_ACTION, "role": ROLE,
    "document": DOCUMENT,
}
REFERENCE_LISTS: dict[str, tuple[reference.Code, ...]] = {
    "need": reference.NEEDS, "residence_status": reference.RESIDENCE_STATUSES,
    "purpose": reference.RESIDENCE_PURPOSES, "site": reference.SITES,
    "consent_method": reference.CONSENT_METHODS, "district": reference.DISTRICTS,
}


def label(code: Any, vocabulary: str, lang: str = "de") -> str:
    """The word for `code` of `vocabulary` in `lang` (the code itself when it has none)."""
    if code is None or code == "":
        return ""
    text = str(code)
    if vocabulary in REFERENCE_LISTS:
        for item in REFERENCE_LISTS[vocabulary]:
            if item.code == text:
                # a visitor's language (the next-steps sheet): its catalogue, in the locale
                # forced around the call, translates the English label
                return item.label(lang) if lang in ("de", "en") else str(
                    pgettext(vocabulary, item.en))
        return text
    if vocabulary == "partner":
        return partner_name(text, lang)
    if vocabulary == "service":
        return service_name(text, lang)
    word = VOCABULARIES[vocabulary].get(text)
    return str(word) if word is not None else text


def partner_name(code: str, lang: str = "de") -> str:
    partner = DIRECTORY.get(code)
    if partner is None:
        return code
    return partner.name_en if lang == "en" and partner.name_en else partner.name


def service_name(code: str, lang: str = "de") -> str:
    for partner in DIRECTORY.values():
        for service in partner.services:
            if service.code == code:
                return service.name_en if lang == "en" and service.name_en else service.name
    return code


def choices(vocabulary: str, lang: str = "de") -> list[tuple[str, str]]:
    """(code, word) of a vocabulary in its order, for a form's select."""
    if vocabulary in REFERENCE_LISTS:
        return [(item.code, item.label(lang)) for item in REFERENCE_LISTS[vocabulary]]
    return [(code, str(word)) for code, word in VOCABULARIES[vocabulary].items()]


def city_date(value: date | datetime | str | None, lang: str = "de") -> str:
    """A date as people of the UI's language write it (14.03.1987; Mar 14, 1987)."""
    if not value:
        return ""
    if isinstance(value, str):
        value = (datetime.fromisoformat(value) if "T" in value or " " in value
                 else date.fromisoformat(value))
    if isinstance(value, datetime):
        value = value.astimezone(CITY_TIME).date() if value.tzinfo else value.date()
    return format_date(value, "dd.MM.yyyy" if lang == "de" else "medium", locale=lang)


# A date as people type it: TT.MM.JJJJ (one-digit day and month too), TTMMJJJJ, or ISO
_TYPED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})|(\d{2})(\d{2})(\d{4})")


def typed_date(text: str) -> date | None:
    """The date typed into a field or a search box; None when it is none (31.02. included)."""
    text = text.strip()
    german = _TYPED_DATE.fullmatch(text)
    try:
        if german:
            day, month, year = (int(p) for p in (german.groups()[:3] if german.group(1)
                                                 else german.groups()[3:]))
            return date(year, month, day)
        return date.fromisoformat(text)
    except ValueError:
        return None


def form_date(value: date | str | None) -> str:
    """A stored date as a form shows it for typing over (TT.MM.JJJJ)."""
    if not value:
        return ""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d.%m.%Y")


def city_datetime(value: datetime | str | None, lang: str = "de", weekday: bool = True) -> str:
    """A stored time as the city's wall-clock time (Europe/Berlin) in the UI's language."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if lang == "de":
        pattern = "EEE dd.MM.yyyy HH:mm" if weekday else "dd.MM.yyyy HH:mm"
    else:
        pattern = "EEE d MMM yyyy HH:mm" if weekday else "d MMM yyyy HH:mm"
    return format_datetime(moment, pattern, tzinfo=CITY_TIME, locale=lang)


# Nationalities and languages are kept as ISO codes (3166-1 alpha-2; 639-1 or 639-3); people
# read and type their names, from CLDR (Babel) in the UI's language. The centre's frequent ones
# come first in a picker.
FREQUENT_COUNTRIES = ("UA", "SY", "AF", "IQ", "IR", "TR", "RO", "BG", "PL", "AL", "ER", "SO",
                      "RU", "XS")
FREQUENT_LANGUAGES = ("uk", "ru", "ar", "fa", "prs", "ps", "tr", "ku", "kmr", "ckb", "ro", "bg",
                      "pl", "sq", "ti", "so", "en", "fr")
# Valid codes CLDR has no name for: ICAO 9303's unknown (XX) and stateless (XS); Dari and
# Northern Kurdish by their ISO 639-3 codes. (German, English)
_EXTRA_COUNTRIES = {"XX": ("Staatsangehörigkeit ungeklärt", "Nationality unknown"),
                    "XS": ("Staatenlos", "Stateless")}
_EXTRA_LANGUAGES = {"prs": ("Dari", "Dari"),
                    "kmr": ("Nordkurdisch (Kurmandschi)", "Northern Kurdish (Kurmanji)")}


def name_key(text: str) -> str:
    """A name as compared: case, accents and spacing aside (Turkei finds Türkei)."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


@lru_cache(maxsize=32)
def names(kind: str, lang: str) -> dict[str, str]:
    """{code: name} of every valid country (`kind` "country", upper-case codes) or language
    ("language", lower case) in `lang` (German for a language without CLDR names here)."""
    locale = Locale.parse(lang if lang in ("de", "en") else "de")
    at = 1 if locale.language == "en" else 0
    if kind == "country":
        found = {c: n for c, n in locale.territories.items() if reference.is_country(c)}
        extra = _EXTRA_COUNTRIES
    else:
        found = {c: n for c, n in locale.languages.items() if reference.is_language(c)}
        extra = _EXTRA_LANGUAGES
    found.update({c: both[at] for c, both in extra.items()})
    return found


def country_name(code: Any, lang: str = "de") -> str:
    """The name of a country (ISO 3166-1 alpha-2) in `lang`; the code when it has none."""
    if not code:
        return ""
    text = str(code)
    return names("country", lang).get(text.upper(), text)


def language_name(code: Any, lang: str = "de") -> str:
    """The name of a language (ISO 639-1 or 639-3) in `lang`: CLDR's, else the ISO 639-3
    list's (pycountry, translated where it has the language); the code when it has none."""
    if not code:
        return ""
    text = str(code)
    name = names("language", lang).get(text.lower())
    if name:
        return name
    found = (pycountry.languages.get(alpha_3=text) if len(text) == 3
             else pycountry.languages.get(alpha_2=text))
    if found is None:
        return text
    if lang == "en":
        return str(found.name)
    return gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[lang],
                               fallback=True).gettext(str(found.name))


@lru_cache(maxsize=32)
def picker_options(kind: str, lang: str) -> tuple[str, ...]:
    """The names a picker offers: the centre's frequent ones first, then all by name."""
    found = names(kind, lang)
    frequent = FREQUENT_COUNTRIES if kind == "country" else FREQUENT_LANGUAGES
    first = [found[c] for c in frequent if c in found]
    return (*first, *sorted((n for c, n in found.items() if c not in frequent), key=name_key))


@lru_cache(maxsize=4)
def _codes_by_name(kind: str) -> dict[str, str]:
    """Names in either UI language to their code (German names win where the two differ)."""
    found: dict[str, str] = {}
    for lang in ("en", "de"):
        found.update({name_key(n): c for c, n in names(kind, lang).items()})
    return found


def code_for(text: str, kind: str) -> str | None:
    """The ISO code of a country or language typed by name (German or English) or by code;
    None if it is neither."""
    typed = text.strip()
    named = _codes_by_name(kind).get(name_key(typed))
    if named:  # a name first: German "Ga" is a language of Ghana, not the code of Irish
        return named
    code = typed.upper() if kind == "country" else typed.lower()
    if code and (reference.is_country(code) if kind == "country"
                 else reference.is_language(code)):
        return code
    return None
