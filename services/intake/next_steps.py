"""The visitor's sheet, "your next steps" (issue 20, item 5): one printable page in the
visitor's language beside German, saying for each open referral where to go, when, and what
to bring.

Built from the person page's data (the referrals the intake service tracks) and the partner
directory (addresses, opening hours, documents). Texts in the visitor's language come from the
gettext catalogue of that language (shared/translations/<lang>), which exists for the centre's
frequent languages; for any other language the sheet is English beside German.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from babel import Locale
from babel.dates import get_day_names
from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import force_locale, gettext, pgettext

from services.intake import queries
from services.intake.data_protection import note_access
from shared import words
from shared.auth import ui_roles
from shared.clock import utcnow
from shared.partners import DIRECTORY, Visit
from shared.web import TRANSLATIONS

bp = Blueprint("next_steps", __name__, template_folder="templates")

# Referrals that still ask something of the visitor (a closed one is no next step)
OPEN = ("requested", "received", "accepted", "in-progress", "on-hold")
WEEKDAY_INDEX = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
RIGHT_TO_LEFT = {"ar", "fa", "ps", "ur", "he", "ckb"}
# A language recorded by a narrower code than its catalogue's (Kurmanji is `kmr`, its
# catalogue `ku`; Dari `prs` reads the Persian one)
CATALOGUE_OF = {"kmr": "ku", "prs": "fa"}


def sheet_languages() -> tuple[str, ...]:
    """The languages the sheet can be printed in beside German: those with a catalogue."""
    return tuple(sorted(p.name for p in Path(TRANSLATIONS).iterdir()
                        if (p / "LC_MESSAGES" / "messages.mo").exists() and p.name != "de"))


@dataclass
class Column:
    """The sheet in one language."""

    lang: str
    language_name: str
    rtl: bool
    texts: dict[str, str]
    steps: list[dict] = field(default_factory=list)


def _hours(visit: Visit, lang: str) -> list[str]:
    names = get_day_names("abbreviated", locale=lang)
    lines = []
    for hours in visit.hours:
        days = [WEEKDAY_INDEX[d] for d in hours.days]
        # consecutive days as a range (Mo–Do)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            shown = f"{names[days[0]]}–{names[days[-1]]}"
        else:
            shown = ", ".join(names[d] for d in days)
        lines.append(f"{shown} {hours.opens}–{hours.closes}")
    return lines


def _texts() -> dict[str, str]:
    """The sheet's own words, in the locale forced around the call."""
    return {"title": gettext("Your next steps"), "where": gettext("Where"),
            "when": gettext("When"), "bring": gettext("Please bring"),
            "hours": gettext("Opening hours"), "phone": gettext("Phone"),
            "reference": gettext("Your reference there"),
            "contact_you": gettext("They will contact you to make an appointment."),
            "waiting": gettext("We are still clarifying this step and will contact you."),
            "none": gettext("There are no open steps."),
            "questions": gettext("Questions? Come back to the service centre."),
            "printed": gettext("Printed on"), "for": gettext("for")}


def _step(referral: dict, member: dict | None, lang: str) -> dict:
    partner = DIRECTORY.get(referral["partner"] or "")
    service = next((s for s in partner.services if s.code == referral["service"]),
                   None) if partner else None
    appointment = referral.get("appointment") or {}
    return {
        "need": words.label(referral["need"], "need", lang),
        "for": member,
        "partner": words.partner_name(partner.code, "de") if partner else "",
        "service": service.name if service else "",
        "address": appointment.get("location") or (partner.visit.address if partner and
                                                   partner.visit else ""),
        "phone": partner.visit.phone if partner and partner.visit else None,
        "hours": _hours(partner.visit, lang) if partner and partner.visit else [],
        "when": words.city_datetime(appointment["starts_at"], lang)
        if appointment.get("starts_at") else None,
        "waiting": referral["status"] == "on-hold" or not (partner or appointment),
        "reference": referral["partner_case_ref"],
        "bring": [words.label(d, "document", lang) for d in (service.bring if service else ())],
    }


def _column(lang: str, referrals: list[tuple[dict, dict | None]]) -> Column:
    with force_locale(lang):
        texts = {**_texts(), "printed_at": words.city_datetime(utcnow(), lang, weekday=False)}
        return Column(lang, Locale.parse(lang).get_display_name(lang) or lang,
                      lang in RIGHT_TO_LEFT, texts,
                      [_step(r, member, lang) for r, member in referrals])


def _open_referrals(detail: dict) -> list[tuple[dict, dict | None]]:
    """Each open referral of the person's consultations, with the household member it is
    for (as that consultation listed the household)."""
    found = []
    for consultation in detail["consultations"]:
        household = consultation["person"]["household"]
        for referral in consultation["referrals"]:
            if referral["status"] not in OPEN:
                continue
            at = referral.get("for_member")
            member = household[at] if at is not None and at < len(household) else None
            found.append((referral, member))
    return found


def visitor_language(person, asked: str | None) -> str:
    """The language asked for, else the person's preferred (or first) language, where the
    sheet has words for it; English otherwise."""
    available = sheet_languages()
    for lang in (asked, person.main_language, *person.languages):
        lang = CATALOGUE_OF.get(lang or "", lang)
        if lang and lang in available:
            return lang
    return "en"


@bp.get("/persons/<uuid:person_id>/next-steps")
@ui_roles("staff")
def sheet(person_id):
    detail = queries.person_detail(current_app.extensions["lotse"].session_factory,
                                   str(person_id))
    if detail is None or detail["merged_into"]:
        abort(404)
    person = detail["person"]
    asked = request.args.get("lang")
    if asked and asked not in sheet_languages():
        abort(400, pgettext("next steps", "The sheet has no words in this language."))
    lang = visitor_language(person, asked)
    referrals = _open_referrals(detail)
    columns = [_column(lang, referrals)]
    if lang != "de":
        columns.append(_column("de", referrals))
    note_access("viewed", "ui", person_ids=[detail["id"]])
    return render_template("intake/next_steps.html", person=person, person_id=detail["id"],
                           columns=columns, languages=sheet_languages(), lang=lang)
