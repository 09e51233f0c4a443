"""The staff intake form: its fields turned into the API's request shape, errors flattened.

One form serves the counter at speed: a flat list of named inputs (household rows as
hh-<n>-<field>, needs with urgency-<code> and for-<code>, the household row the need is for),
so it works without JavaScript and the API's validation (and its field names) applies
unchanged.
"""
from __future__ import annotations

from typing import Callable, Mapping

HOUSEHOLD_ROWS = 6
MAX_HOUSEHOLD = 20  # the API's limit: a returning household is never cut short
CONSENT_SCOPES = ("routed", "welfare", "jobcenter", "registration")


def _list(text: str, upper: bool = False) -> list[str]:
    items = [x.strip() for x in text.replace(";", ",").replace(" ", ",").split(",") if x.strip()]
    return [x.upper() if upper else x.lower() for x in items]


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
    """The form as an IntakeInSchema payload; blank optional fields are left out."""
    person = {
        "given_name": form.get("given_name", ""), "family_name": form.get("family_name", ""),
        "birth_date": form.get("birth_date", ""),
        "nationality": form.get("nationality", "").strip().upper(),
        "languages": _list(form.get("languages", "")),
        "nationalities": _list(form.get("nationalities", ""), upper=True),
        "interpreter": form.get("interpreter") or "none",
        "preferred_language": _opt(form, "preferred_language"),
        "other_names": [], "household": [],
    }
    if _opt(form, "other_given_name") or _opt(form, "other_family_name"):
        person["other_names"].append({"given_name": form.get("other_given_name", ""),
                                      "family_name": form.get("other_family_name", "")})
    contact = {"phone": _opt(form, "phone"), "email": _opt(form, "email"),
               "no_fixed_address": form.get("no_fixed_address") == "yes",
               "preferred_channel": _opt(form, "preferred_channel")}
    if any(_opt(form, f) for f in ("street", "postcode", "city")):
        contact["address"] = {"street": form.get("street", ""),
                              "postcode": form.get("postcode", ""),
                              "city": form.get("city", ""),
                              "district": _opt(form, "district")}
    person["contact"] = contact
    members: dict[str, int] = {}  # form row -> index in the household sent (blank rows out)
    for i in range(MAX_HOUSEHOLD):
        row = {f: form.get(f"hh-{i}-{f}", "").strip()
               for f in ("given_name", "family_name", "relation", "birth_date")}
        if any(row.values()):
            members[str(i)] = len(person["household"])
            person["household"].append(row)
    residence = {f: _opt(form, f) for f in ("legal_basis", "document_type", "valid_until",
                                             "first_issue_date")}
    residence["purpose"] = _opt(form, "residence_purpose")
    payload = {
        "person": person, "residence_status": form.get("residence_status", ""),
        "residence": residence, "arrival_date": _opt(form, "arrival_date"),
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
               "language": form.get("consent_language", "").strip().lower(),
               "information_version": _opt(form, "consent_version")}
    scopes = form.getlist("consent_scope")
    if "routed" in scopes:
        payload["consent"] = {"share_with_partners": True, **consent}
    payload["consents"] = [{"partner": p, **consent} for p in scopes if p != "routed"]
    return payload


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


def consent_errors(flat: dict[str, str]) -> str:
    """Errors of the consent block, which is one set of inputs for several API fields."""
    return " ".join(dict.fromkeys(v for k, v in flat.items() if k.startswith("consent")))
