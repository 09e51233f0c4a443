"""The referral's texts as staff read them, in the UI's language (issue 20, item 1).

The referral domain keeps why a referral went where it went (`routing_reason`), and what
happened to it (history notes), as English sentences: the API and the events carry them
unchanged. A page reads them back here: each sentence the domain builds (services/referral/
domain.py, handlers.py, rules.py) is recognised by its shape and said again with words of
the UI's language; codes in it (services, needs, statuses, relations, districts) become
their labels, dates German dates. Legal citations stay as the routing table has them. A text
that is no such sentence was typed by a person (a note, a partner's reason): it is shown as
typed, marked not to be translated.
"""
from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _
from markupsafe import Markup, escape

from shared import words
from shared.web import ui_language

_ISO = r"\d{4}-\d{2}-\d{2}"
# why staff must act now (Referral.attention): the work queue's kinds
ATTENTION_KINDS = ("on_hold", "delivery_failed", "rejected", "overdue")


def _facts() -> dict[str, str]:
    return {"first_issue_date": _("date the residence document was first issued"),
            "arrival_date": _("arrival in Germany"), "residence_purpose": _("purpose of stay")}


def attention_kinds() -> dict[str, str]:
    return {"on_hold": _("on hold"), "delivery_failed": str(words.REASON["delivery_failed"]),
            "rejected": _("rejected, no partner left"), "overdue": _("overdue")}


def _lang(lang: str | None) -> str:
    return lang or ui_language()


def fact(code: str) -> str:
    return _facts().get(code, code)


def _service(code: str, lang: str) -> str:
    return words.service_name(code.lower(), lang)


def _years(years: str, months: str | None) -> str:
    if months:
        return _("%(years)s years %(months)s months", years=years, months=months)
    return _("%(years)s years", years=years)


# One condition of a rule as RoutingRule.assess and _household_and_origin name it: its
# pattern at the start of the rest, and its words.
_CONDITIONS: tuple[tuple[re.Pattern[str], object], ...] = tuple(
    (re.compile(pattern), say) for pattern, say in (
        (r"non-EU citizen", lambda m, lang: _("non-EU citizen")),
        (r"EU citizen", lambda m, lang: _("EU citizen")),
        (r"counselling in ([\w-]+)", lambda m, lang: _(
            "counselling in %(language)s", language=words.language_name(m[1], lang))),
        (r"child under (\d+)", lambda m, lang: _("child under %(age)s", age=m[1])),
        (r"lives in ([\w-]+)", lambda m, lang: _(
            "lives in %(district)s", district=words.label(m[1], "district", lang))),
        (r"pension age \((\d+) years(?: (\d+) months)? for (\d{4})\) (reached|not reached)",
         lambda m, lang: (_("statutory pension age (%(limit)s for those born in %(year)s) "
                            "reached", limit=_years(m[1], m[2]), year=m[3])
                          if m[4] == "reached" else
                          _("statutory pension age (%(limit)s for those born in %(year)s) "
                            "not reached", limit=_years(m[1], m[2]), year=m[3]))),
        (r"age (\d+) within (\d+)–(\d+)", lambda m, lang: _(
            "age %(age)s within %(low)s–%(high)s", age=m[1], low=m[2], high=m[3])),
        (r"age (\d+) ≥ (\d+)", lambda m, lang: _(
            "age %(age)s, at least %(low)s", age=m[1], low=m[2])),
        (r"status (\w+)", lambda m, lang: _(
            "residence status %(status)s",
            status=words.label(m[1], "residence_status", lang))),
        (rf"first issued ({_ISO})", lambda m, lang: _(
            "document first issued on %(date)s", date=words.city_date(m[1], lang))),
        (r"purpose ([\w-]+)", lambda m, lang: _(
            "purpose of stay: %(purpose)s", purpose=words.label(m[1], "purpose", lang))),
        (rf"arrived ({_ISO}), within (\d+) months", lambda m, lang: _(
            "arrived on %(date)s, less than %(months)s months ago",
            date=words.city_date(m[1], lang), months=m[2])),
        (r"no conditions", lambda m, lang: _("no conditions")),
    ))


def _conditions(text: str, lang: str) -> tuple[str, str] | None:
    """The conditions at the start of `text`, in words, and the rest after them."""
    said, rest = [], text
    while True:
        for pattern, say in _CONDITIONS:
            match = pattern.match(rest)
            if match:
                said.append(say(match, lang))  # type: ignore[operator]
                rest = rest[match.end():]
                break
        else:
            return None
        if rest.startswith(", "):
            rest = rest[2:]
            continue
        return ", ".join(said), rest


def routing_reason(text: str | None, lang: str | None = None) -> str | None:
    """Why a referral went where it went, in words of the UI; None when `text` is no routing
    reason the domain builds."""
    if not text:
        return None
    try:
        return _routing_reason(text, lang)
    except ValueError:  # shaped like one, but not one (a date that is none): shown as typed
        return None


def _routing_reason(text: str, lang: str | None) -> str | None:
    lang = _lang(lang)
    member = re.fullmatch(rf"for the (\w+) born ({_ISO}): (.*)", text, re.S)
    if member:
        inner = routing_reason(member[3], lang)
        if inner is None:
            return None
        return _("for the household member (%(relation)s, born %(date)s): %(reason)s",
                 relation=words.label(member[1], "relation", lang),
                 date=words.city_date(member[2], lang), reason=inner)
    missing = re.fullmatch(r"fact missing: ([\w, ]+) \(decides by ([\w.-]+): (.*)\)", text,
                           re.S)
    if missing:
        return _("a fact is missing: %(facts)s (rule %(rule)s decides: %(citation)s)",
                 facts=", ".join(fact(f.strip()) for f in missing[1].split(",")),
                 rule=missing[2], citation=missing[3])
    if text == "no rule fits: on hold for staff":
        return _("no routing rule fits: on hold for staff")
    unrouted = re.fullmatch(r"no routing rule fits need ([\w-]+)( for household member (\d+) "
                            r"\(or its partner is not told whom a case is for\))?", text)
    if unrouted:
        need = words.label(unrouted[1], "need", lang)
        if unrouted[2]:
            return _("no routing rule fits the need %(need)s of household member %(n)s (or "
                     "its partner is not told whom a case is for)", need=need, n=unrouted[3])
        return _("no routing rule fits the need %(need)s", need=need)
    by_hand = re.fullmatch(r"([A-Z0-9_]+): referred by hand by ([^ ()]+)(?: \((.*)\))?", text,
                           re.S)
    if by_hand:
        said = _("%(service)s: referred by hand by %(staff)s",
                 service=_service(by_hand[1], lang), staff=by_hand[2])
        return said + (f" ({by_hand[3]})" if by_hand[3] else "")
    ruled = re.fullmatch(r"([A-Z0-9_]+): (.*)", text, re.S)
    if ruled:
        found = _conditions(ruled[2], lang)
        if found is None:
            return None
        conditions, rest = found
        if not (rest.startswith(" (") and rest.endswith(")")):
            return None
        return _("%(service)s: %(conditions)s (%(citation)s)",
                 service=_service(ruled[1], lang), conditions=conditions,
                 citation=rest[2:-1])
    return None


def note(text: str | None, lang: str | None = None) -> str | None:
    """A history note or reason the domain writes, in words of the UI; None when it is none
    (typed by a person or a partner)."""
    if not text:
        return None
    try:
        return _note(text, lang)
    except ValueError:  # shaped like one, but not one: shown as typed
        return None


def _note(text: str, lang: str | None) -> str | None:
    lang = _lang(lang)
    if text in words.REASON:
        return words.label(text, "reason", lang)
    told = re.fullmatch(r"partner_notice_(\w+)", text)
    if told:
        return (_("partner told of the consent withdrawal") if told[1] == "consent_withdrawn"
                else _("partner told of the erasure") if told[1] == "erasure" else None)
    fixed = {"case opened at partner": _("case opened at partner"),
             "nobody acknowledged the referral in time":
                 _("nobody acknowledged the referral in time")}
    if text in fixed:
        return fixed[text]
    notice = re.fullmatch(r"partner told of the (consent withdrawal|erasure) \((.*)\)", text,
                          re.S)
    if notice:
        what = (_("partner told of the consent withdrawal") if notice[1] == "consent withdrawal"
                else _("partner told of the erasure"))
        return f"{what} ({notice[2]})"
    sharing = re.fullmatch(r"sharing allowed by (?:consent (\S+)|legal basis: (.*))", text,
                           re.S)
    if sharing:
        return (_("sharing allowed by the consent %(consent)s", consent=sharing[1])
                if sharing[1] else
                _("sharing allowed by the legal basis %(basis)s", basis=sharing[2]))
    reached = re.fullmatch(r"the ([\w-]+) referral reached its partner", text)
    if reached:
        return _("the referral for %(need)s reached its partner",
                 need=words.label(reached[1], "need", lang))
    added = re.fullmatch(r"facts added: (.*)", text, re.S)
    if added:
        inner = routing_reason(added[1], lang)
        return None if inner is None else _("facts added: %(reason)s", reason=inner)
    consent = re.fullmatch(r"(.*); waiting for the person's consent to share with (\w*)", text,
                           re.S)
    if consent:
        inner = routing_reason(consent[1], lang)
        return None if inner is None else _(
            "%(reason)s; waits for the person's consent to share with %(partner)s",
            reason=inner, partner=words.label(consent[2], "partner", lang))
    waits = re.fullmatch(r"(.*); waits for the ([\w-]+) referral", text, re.S)
    if waits:
        inner = routing_reason(waits[1], lang)
        return None if inner is None else _(
            "%(reason)s; waits for the referral for %(need)s",
            reason=inner, need=words.label(waits[2], "need", lang))
    return routing_reason(text, lang)


def shown(said: str | None, text: str | None) -> Markup:
    """`said` (the words) if the text was recognised, else the text as typed, marked not to
    be translated."""
    if said is not None:
        return escape(said)
    if not text:
        return Markup("")
    return Markup('<bdi translate="no">%s</bdi>') % text


def actor(by: str | None, lang: str | None = None) -> Markup:
    """Who changed a referral: a partner, the routing, the deadlines, a consent; else the
    user name (not translated)."""
    lang = _lang(lang)
    if not by:
        return Markup("")
    if by.startswith("partner:"):
        return escape(_("partner %(partner)s",
                        partner=words.label(by.split(":", 1)[1], "partner", lang)))
    systems = {"lotse-routing": _("Lotse routing"), "system": _("Lotse routing"),
               "routing": _("Lotse routing"), "lotse-deadlines": _("Lotse deadline watch")}
    if by in systems:
        return escape(systems[by])
    if by.startswith("consent:"):
        return escape(_("consent of the person") if by == "consent:given"
                      else _("withdrawal of the consent (%(by)s)", by=by.split(":", 1)[1]))
    return Markup('<bdi translate="no">%s</bdi>') % by


def attention(kind: str | None, lang: str | None = None) -> str:
    """Why a referral waits in the work queue ('on_hold:fact_missing', 'overdue', ...)."""
    if not kind:
        return ""
    lang = _lang(lang)
    head, _sep, reason = kind.partition(":")
    said = attention_kinds().get(head, head)
    return f"{said}: {words.label(reason, 'reason', lang)}" if reason else said


def a_date(value: date | str | None, lang: str | None = None) -> str:
    return words.city_date(value, _lang(lang))


def _fields() -> dict[str, str]:
    return {"partner": _("Partner"), "service": _("Service"), "need": _("Need"),
            "reason": _("Reason"), "note": _("Note"), "intake_id": _("Intake"),
            "target": _("Refer to"), "referral": _("Referral")}


def refused(exc: Exception, lang: str | None = None) -> str:
    """Why staff's action on a referral was refused (handlers.ReferralActionError, a form's
    ValidationError), in words of the UI."""
    from marshmallow import ValidationError

    lang = _lang(lang)
    if isinstance(exc, ValidationError):
        fields = exc.messages if isinstance(exc.messages, dict) else {}
        named = [_fields().get(str(f), str(f)) for f in fields] or [_("Referral")]
        return _("please check: %(fields)s", fields=", ".join(named))
    message = str(getattr(exc, "message", exc))
    partner = lambda code: words.label(code, "partner", lang)  # noqa: E731
    for pattern, say in (
            (r"no consent in force allows sharing with (\S+); record one on the person page "
             r"first", lambda m: _("no consent in force allows sharing with %(partner)s; "
                                   "record one on the person page first",
                                   partner=partner(m[1]))),
            (r"unknown partner (\S+)", lambda m: _("unknown partner %(partner)s",
                                                   partner=m[1])),
            (r"this referral has no data to pass on",
             lambda m: _("this referral has no data to pass on")),
            (r"this need was already taken over by referral (\S+)",
             lambda m: _("this need was already taken over by referral %(referral)s",
                         referral=m[1][:8])),
            (r"no routed referral of this intake yet",
             lambda m: _("no routed referral of this intake yet")),
            (r"(\S+) offers no service '([^']*)'.*",
             lambda m: _("%(partner)s offers no service %(service)s", partner=partner(m[1]),
                         service=words.label(m[2], "service", lang))),
            (r"a referral cannot go from ([\w-]+) to ([\w-]+).*",
             lambda m: _("a referral cannot go from %(from)s to %(to)s",
                         **{"from": words.label(m[1], "referral_status", lang),
                            "to": words.label(m[2], "referral_status", lang)}))):
        match = re.fullmatch(pattern, message, re.S)
        if match:
            return say(match)
    return message


def _form_messages() -> tuple[tuple[str, object], ...]:
    """A rule form's messages (the schema's, marshmallow's, rules.check_rule's) in words."""
    return (
        (r"Missing data for required field\.|Field may not be null\.",
         lambda m: _("This is required.")),
        (r"Not a valid date\.", lambda m: _("Not a valid date.")),
        (r"Not a valid integer\.|Not a valid number\.", lambda m: _("Not a whole number.")),
        (r"Must be one of: .*", lambda m: _("Please choose from the list.")),
        (r"Unknown field\.", lambda m: _("This field is not known.")),
        (r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\.",
         lambda m: _("Must lie between %(min)s and %(max)s.", min=m[1], max=m[2])),
        (r"Length must be between (\d+) and (\d+)\.",
         lambda m: _("Must be %(min)s to %(max)s characters long.", min=m[1], max=m[2])),
        (r"Lower-case letters, digits and -, 3 to 60 long\.",
         lambda m: _("Lower-case letters, digits and -, 3 to 60 characters long.")),
        (r"A service code: lower-case letters, digits, _\.",
         lambda m: _("A service code: lower-case letters, digits and _.")),
        (r"String does not match expected pattern\.",
         lambda m: _("Not in the expected form.")),
        (r"unknown partner; known: .*", lambda m: _("unknown partner")),
        (r"(\S+) offers no service '([^']*)'; known: (.*)",
         lambda m: _("%(partner)s offers no service %(service)s; it offers: %(known)s",
                     partner=words.label(m[1], "partner", _lang(None)),
                     service=words.label(m[2], "service", _lang(None)),
                     known=", ".join(words.label(s, "service", _lang(None))
                                     for s in m[3].split(", ") if s != "none") or "—")),
        (r"must be greater than min_age \(it is exclusive\)",
         lambda m: _("must be greater than “from age” (that age no longer counts)")),
        (r"lies before valid_from", lambda m: _("lies before “valid from”")),
        (r"lies before first_issued_from",
         lambda m: _("lies before “document first issued from”")),
        (r"a need cannot wait for itself", lambda m: _("a need cannot wait for itself")),
        (r"name the paragraph the rule applies \(law, §, Abs\., Satz\)",
         lambda m: _("name the paragraph the rule applies (law, §, Abs., Satz)")),
        (r"says whether the rule is in force \((.*)\):.*",
         lambda m: _("says whether the rule is in force (%(words)s): give “valid from” / "
                     "“valid until” instead; the table shows it", words=m[1])),
        (r"a new rule needs an id", lambda m: _("a new rule needs an id")),
    )


def form_message(message: str) -> str:
    for pattern, say in _form_messages():
        match = re.fullmatch(pattern, str(message), re.S)
        if match:
            return say(match)  # type: ignore[operator]
    return _("Please check this value.")


def form_errors(messages: object) -> dict[str, list[str]]:
    """A form's errors by field (marshmallow's, nested for lists) as words of the UI."""
    def flat(value: object) -> list[str]:
        if isinstance(value, dict):
            return [m for v in value.values() for m in flat(v)]
        if isinstance(value, (list, tuple)):
            return [m for v in value for m in flat(v)]
        return [form_message(str(value))]
    if not isinstance(messages, dict):
        return {"_schema": flat(messages)}
    return {str(field): flat(value) for field, value in messages.items()}


def preview_field(name: str) -> str:
    """The label of a field of the routing preview's form (its errors name it)."""
    return {"residence_status": _("Residence status"), "languages": _("Languages (ISO, comma)"),
            "on_date": _("On the day"), "first_issue_date": _("Document first issued"),
            "children_born": _("Youngest child born"), "district": _("District"),
            "arrival_date": _("Arrival in Germany"), "residence_purpose": _("Purpose of stay"),
            }.get(name, name)


def language(code: str, lang: str | None = None) -> str:
    """A language's name (ISO 639 code) in the UI's language."""
    return words.language_name(code, _lang(lang))
