"""The staff intake form: its fields turned into the API's request shape, errors flattened.

One form serves the counter at speed: a flat list of named inputs (household rows as
hh-<n>-<field>, needs with urgency-<code> and for-<code>, the household row the need is for),
so it works without JavaScript and the API's validation (and its field names) applies
unchanged.
"""
from __future__ import annotations

import re
from typing import Callable, Mapping

from flask_babel import gettext

from shared import words

HOUSEHOLD_ROWS = 6
MAX_HOUSEHOLD = 20  # the API's limit: a returning household is never cut short
CONSENT_SCOPES = ("routed", "welfare", "jobcenter", "registration")


# Which picker each form field is, and the API field its errors come back at.
PICKERS = {"nationality": ("country", "person.nationality"),
           "nationalities": ("country", "person.nationalities"),
           "languages": ("language", "person.languages"),
           "preferred_language": ("language", "person.preferred_language"),
           "consent_language": ("language", "consent_language")}
MULTIPLE = ("nationalities", "languages")


def picker_name(code: str | None, kind: str, lang: str = "de") -> str:
    """A country's or language's name in `lang` (the code when CLDR has none)."""
    return words.country_name(code, lang) if kind == "country" else words.language_name(
        code, lang)


def _entries(form: Mapping, name: str) -> list[str]:
    """A picker's entries: one, or for a list (languages) separated by commas or semicolons,
    codes also by spaces (uk ru)."""
    text = (form.get(name) or "").strip()
    if name not in MULTIPLE:
        return [text] if text else []
    entries = []
    for item in (x.strip() for x in text.replace(";", ",").split(",")):
        parts = item.split()
        if len(parts) > 1 and all(len(w) <= 3 for w in parts):
            entries += parts
        elif item:
            entries.append(item)
    return entries


def _picked(form: Mapping, name: str) -> list[str]:
    """The codes of a picker field, an entry not known kept as typed (the API refuses it)."""
    kind = PICKERS[name][0]
    return [words.code_for(e, kind) or e for e in _entries(form, name)]


def picker_errors(form: Mapping) -> dict[str, str]:
    """A name typed that is no country or language, or a required one left out, at its field
    (in the page's language)."""
    errors = {}
    if not _entries(form, "nationality"):
        errors["person.nationality"] = gettext("Please choose a nationality from the list.")
    if not _entries(form, "languages"):
        errors["person.languages"] = gettext("Please choose at least one language.")
    for name, (kind, path) in PICKERS.items():
        unknown = [e for e in _entries(form, name) if words.code_for(e, kind) is None]
        if not unknown:
            continue
        shown = ", ".join(f"„{e}“" for e in unknown)
        errors[path] = (gettext("Unknown country: %(names)s. Please choose from the list.",
                                names=shown) if kind == "country" else
                        gettext("Unknown language: %(names)s. Please choose from the list.",
                                names=shown))
    return errors


def with_picker_errors(errors: dict[str, str], form: Mapping) -> dict[str, str]:
    """The API's errors with a picker's (and its entries') replaced by the clearer one."""
    found = picker_errors(form)
    kept = {k: v for k, v in errors.items()
            if not (k in found or any(k.startswith(p + ".") for p in found)
                    or ("consent_language" in found
                        and re.fullmatch(r"consents?(\.\d+)?\.language", k)))}
    for key in [k for k in kept if re.fullmatch(r"person\.(languages|nationalities)\.\d+", k)]:
        field = key.rsplit(".", 1)[0]  # an entry's error is shown at its field
        kept[field] = " ".join(dict.fromkeys(filter(None, (kept.get(field), kept.pop(key)))))
    return {**kept, **found}


def picker_values(values: Mapping, lang: str) -> dict[str, str]:
    """A returning visitor's codes as the names the pickers show."""
    shown = {}
    for name, (kind, _path) in PICKERS.items():
        if values.get(name):
            shown[name] = ", ".join(picker_name(c, kind, lang)
                                    for c in _entries(values, name))
    return shown


def typed_iso_date(form: Mapping, name: str) -> str:
    """A date field as the API takes it (ISO): typed as TT.MM.JJJJ, TTMMJJJJ or ISO; what is
    no date is passed on as typed, for the API to name the field."""
    text = (form.get(name) or "").strip()
    typed = words.typed_date(text)
    return typed.isoformat() if typed else text


def _opt(form: Mapping, name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value or None


def _for_member(row: str | None, members: dict[str, int], household: list) -> dict:
    """The household member a need is for, as the API counts them; a blank row chosen
    counts past the household, so the API names the need's field ("names no member")."""
    if row is None:
        return {}
    return {"for_member": members.get(row, len(household))}


def form_to_payload(form) -> dict:
    """The form as an IntakeInSchema payload; blank optional fields are left out. Countries
    and languages may be typed by name (German or English) or code; the API gets codes."""
    person = {
        "given_name": form.get("given_name", ""), "family_name": form.get("family_name", ""),
        "birth_date": typed_iso_date(form, "birth_date"),
        "nationality": (_picked(form, "nationality") or [""])[0],
        "languages": _picked(form, "languages"),
        "nationalities": _picked(form, "nationalities"),
        "interpreter": form.get("interpreter") or "none",
        "preferred_language": (_picked(form, "preferred_language") or [None])[0],
        "other_names": [], "household": [],
    }
    if _opt(form, "other_given_name") or _opt(form, "other_family_name"):
        person["other_names"].append({"given_name": form.get("other_given_name", ""),
                                      "family_name": form.get("other_family_name", "")})
    contact = {"phone": _opt(form, "phone"), "email": _opt(form, "email"),
               "no_fixed_address": form.get("no_fixed_address") == "yes",
               "preferred_channel": _opt(form, "preferred_channel")}
    # the city alone (the form starts with the centre's) is no address
    if any(_opt(form, f) for f in ("street", "postcode")):
        contact["address"] = {"street": form.get("street", ""),
                              "postcode": form.get("postcode", ""),
                              "city": form.get("city", ""),
                              "district": _opt(form, "district")}
    person["contact"] = contact
    members: dict[str, int] = {}  # form row -> index in the household sent (blank rows out)
    for i in sent_rows(form):
        row = _member_row(form, i)
        # a member's family name left blank is the person's (the field shows it)
        row["family_name"] = row["family_name"] or person["family_name"].strip()
        members[str(i)] = len(person["household"])
        person["household"].append(row)
    residence = {f: _opt(form, f) for f in ("legal_basis", "document_type")}
    residence.update({f: typed_iso_date(form, f) or None
                      for f in ("valid_until", "first_issue_date")})
    residence["purpose"] = _opt(form, "residence_purpose")
    payload = {
        "person": person, "residence_status": form.get("residence_status", ""),
        "residence": residence, "arrival_date": typed_iso_date(form, "arrival_date") or None,
        "site": form.get("site", ""), "channel": form.get("channel") or "in_person",
        "notes": _opt(form, "notes"),
        "needs": [{"code": code, "urgency": form.get(f"urgency-{code}") or "normal",
                   "note": _opt(form, f"note-{code}"),
                   **_for_member(_opt(form, f"for-{code}"), members, person["household"])}
                  for code in form.getlist("needs")],
        "consent": None, "consents": [],
    }
    if _opt(form, "person_id"):
        payload["person_id"] = form.get("person_id")
    consent = {"method": form.get("consent_method", ""),
               "language": (_picked(form, "consent_language") or [""])[0],
               "information_version": _opt(form, "consent_version")}
    scopes = form.getlist("consent_scope")
    if "routed" in scopes:
        payload["consent"] = {"share_with_partners": True, **consent}
    payload["consents"] = [{"partner": p, **consent} for p in scopes if p != "routed"]
    return payload


def N_(text: str) -> str:
    """A message marked for translation where it is shown (pybabel extracts N_)."""
    return text


# marshmallow's own messages as the form shows them (the API keeps its English).
_FORM_MESSAGES = (
    (re.compile(r"Must be one of: .*"), N_("Please choose from the list.")),
    (re.compile(r"Length must be between 1 and \d+\."), N_("Please enter at least one.")),
    (re.compile(r"Not a valid date\."), N_("Not a valid date.")),
    (re.compile(r"Missing data for required field\.|Field may not be null\."),
     N_("This is required.")),
    (re.compile(r"Not a valid email address\."), N_("Not a valid e-mail address.")),
    (re.compile(r"Unknown field\."), N_("This field is not known.")),
    (re.compile(r"Longer than maximum length \d+\."), N_("This is too long.")),
    (re.compile(r"Postcode \d+ is not in the city: .*"),
     N_("This postcode is not in the city: leave the district empty.")),
    (re.compile(r"Postcode \d+ lies in .*"),
     N_("The district does not fit the postcode: choose one the postcode lies in.")),
)


def form_message(message: str) -> str:
    """A message of the API's validation as the form shows it, in the page's language."""
    for pattern, text in _FORM_MESSAGES:
        if pattern.fullmatch(str(message)):
            return gettext(text)
    return gettext(str(message))


def _member_row(form: Mapping, i: int) -> dict[str, str]:
    row = {f: form.get(f"hh-{i}-{f}", "").strip()
           for f in ("given_name", "family_name", "relation")}
    row["birth_date"] = typed_iso_date(form, f"hh-{i}-birth_date")
    return row


def sent_rows(form: Mapping) -> list[int]:
    """The household rows of the form sent as members, in order: blank rows are left out."""
    return [i for i in range(MAX_HOUSEHOLD) if any(_member_row(form, i).values())]


def at_form_rows(errors: dict[str, str], form: Mapping) -> dict[str, str]:
    """The API's errors of household members (counted among the members sent) at the form's
    rows they came from, past any blank row between them."""
    rows = sent_rows(form)

    def row_of(match: re.Match[str]) -> str:
        sent = int(match[1])
        return f"person.household.{rows[sent] if sent < len(rows) else sent}"

    return {re.sub(r"^person\.household\.(\d+)", row_of, k): v for k, v in errors.items()}


def flatten_errors(errors: dict, prefix: str = "",
                   translate: Callable[[str], str] = str) -> dict[str, str]:
    """Nested marshmallow errors as {"person.household.0.birth_date": "message"}, each
    message through `translate` (the page's gettext) before they are joined."""
    flat: dict[str, str] = {}
    for key, value in errors.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_errors(value, path + ".", translate))
        else:
            flat[path] = " ".join(translate(str(v)) for v in
                                  (value if isinstance(value, list) else [value]))
    return flat


def unconsented(form) -> bool:
    """Needs ticked, no consent given and saving without one not confirmed: the form asks
    first (a referral to a partner without a legal basis of its own waits for a consent)."""
    return bool(form.getlist("needs")) and not form.getlist("consent_scope") \
        and form.get("without_consent") != "yes"


def consent_errors(flat: dict[str, str]) -> str:
    """Errors of the consent block, which is one set of inputs for several API fields."""
    return " ".join(dict.fromkeys(v for k, v in flat.items()
                                  if k.startswith("consent") and k != "consent_language"))


# The form's fields in the order they appear: (API error path, input id, label msgid). The
# labels are the form's own, so the summary names each field as the form does.
_FIELDS = (
    ("person_id", "err-person_id", None),
    ("person.given_name", "given_name", "Given name(s) as in passport"),
    ("person.family_name", "family_name", "Family name as in passport"),
    ("person.birth_date", "birth_date", "Date of birth"),
    ("person.nationality", "nationality", "Nationality"),
    ("person.other_names.0.given_name", "other_given_name", "Other spelling: given name"),
    ("person.other_names.0.family_name", "other_family_name", "Other spelling: family name"),
    ("person.languages", "languages", "Languages (preferred first)"),
    ("person.preferred_language", "preferred_language", "Preferred language"),
    ("person.interpreter", "interpreter", "Interpreter"),
    ("person.nationalities", "nationalities", "Further nationalities"),
    ("person.contact.phone", "phone", "Phone"),
    ("person.contact.email", "email", "E-mail"),
    ("person.contact.preferred_channel", "preferred_channel", "Preferred contact"),
    ("person.contact.address.street", "street", "Street in the city"),
    ("person.contact.address.postcode", "postcode", "Postcode"),
    ("person.contact.address.city", "city", "City"),
    ("person.contact.address.district", "district", "City district"),
    ("person.contact.address", "no_fixed_address", "No fixed address"),
    ("person.household.#.given_name", "hh-#-given_name", "Given name"),
    ("person.household.#.family_name", "hh-#-family_name", "Family name"),
    ("person.household.#.relation", "hh-#-relation", "Relation"),
    ("person.household.#.birth_date", "hh-#-birth_date", "Date of birth"),
    ("person.household", "more-household", "Household"),
    ("residence_status", "residence_status", "Residence status"),
    ("residence.legal_basis", "legal_basis", "Legal basis"),
    ("residence.document_type", "document_type", "Document type"),
    ("residence.valid_until", "valid_until", "Valid until"),
    ("residence.first_issue_date", "first_issue_date", "First issued"),
    ("arrival_date", "arrival_date", "Arrival in Germany"),
    ("residence.purpose", "residence_purpose", "Purpose of stay"),
    ("site", "site", "Site"),
    ("channel", "channel", "Channel"),
    ("needs", "needs-start", "Needs"),
    ("needs.#.for_member", "for-#", "For whom"),
    ("needs.#", "need-#", None),
    ("consent", "consent-start", "Consent to share data"),
    ("consent_language", "consent_language", "Information text language"),
    ("notes", "notes", "Notes"),
)


def error_id(path: str) -> str:
    """The id of the element showing a field's error (aria-describedby points to it)."""
    return "err-" + re.sub(r"[^\w-]", "-", path)


def error_summary(errors: dict[str, str], form, lang: str = "de") -> list[dict]:
    """Every error of the form, in the form's order, each with the field it links to:
    [{"href": "#given_name", "label": ..., "message": ...}]. Consent errors come as one."""
    needs = form.getlist("needs") if hasattr(form, "getlist") else []
    items: list[tuple[tuple[int, int, int], dict]] = []
    consent = consent_errors(errors)
    if consent:
        errors = {**{k: v for k, v in errors.items()
                     if not k.startswith("consent") or k == "consent_language"},
                  "consent": consent}
    for path, message in errors.items():
        found = [(len(pattern), place, match) for place, (pattern, _, _) in enumerate(_FIELDS)
                 if (match := re.fullmatch(r"(\d+)".join(map(re.escape, pattern.split("#")))
                                           + r"(?:\..*)?", path))]
        if not found:  # no field of its own: the summary still shows it
            items.append(((len(_FIELDS), 0, 0), {"href": "#intake-form", "label": "",
                                                  "message": message}))
            continue
        _, place, match = max(found, key=lambda f: f[0])  # the most specific field
        pattern, target, label = _FIELDS[place]
        number = int(match.group(1)) if "#" in pattern else 0
        text = gettext(label) if label else ""
        if pattern.startswith("person.household.#"):
            text = gettext("Household member %(n)s", n=number + 1) + ": " + text
            target = target.replace("#", str(number))
        elif pattern.startswith("needs.#"):
            code = needs[number] if number < len(needs) else ""
            word = words.label(code, "need", lang)
            text = f"{text}: {word}" if text else word
            target = target.replace("#", code)
        group = pattern.split("#")[0]  # a household row's fields together, row by row
        first = next(i for i, f in enumerate(_FIELDS) if f[0].split("#")[0] == group)
        items.append(((first, number, place), {"href": "#" + target, "label": text,
                                                "message": message}))
    return [item for _, item in sorted(items, key=lambda i: i[0])]
