"""The words people read for the codes Lotse keeps (issue 20, item 1).

Codes travel in events and stay in tables; a page shows each by its label in the UI's language
(German or English), never the code. Every vocabulary a page may show is named here; a code
without a word shows itself, which the crawl of every page (tests/e2e/test_words.py) finds.

Words of the reference lists (needs, residence statuses, sites, ...) come with the list
(shared.reference); the others are gettext messages with the vocabulary as their context, so
"received" of a referral and of a dead letter translate apart.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from babel.dates import format_date, format_datetime
from flask_babel import lazy_pgettext

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
DEADLINE_PHASE = _words("deadline phase", {"acknowledgement": "acknowledgement",
                                           "completion": "completion"})
ACCESS_ACTION = _words("access action", {
    "viewed": "viewed", "listed": "listed", "created": "created", "changed": "changed",
    "merged": "merged", "unmerged": "merge undone", "consent_given": "consent given",
    "consent_withdrawn": "consent withdrawn", "exported": "exported", "erased": "erased",
    "answered": "answered",
})
ROLE = _words("role", {"staff": "staff", "partner": "partner", "operator": "operator",
                       "admin": "administrator", "service": "Lotse service"})

VOCABULARIES: dict[str, Mapping[str, Any]] = {
    "referral_status": REFERRAL_STATUS, "reason": REASON, "outcome": OUTCOME,
    "relation": RELATION, "urgency": URGENCY, "interpreter": INTERPRETER, "channel": CHANNEL,
    "contact_channel": CONTACT_CHANNEL, "case_status": CASE_STATUS,
    "dead_letter_status": DEAD_LETTER_STATUS, "deadline_phase": DEADLINE_PHASE,
    "access_action": ACCESS_ACTION, "role": ROLE,
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
                return item.label(lang)
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
