"""The reports dashboard (/reports) for management: the review's table, a trend, the period's
figures; filtered by period, site and partner; printable; German and English."""
from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from flask import Blueprint, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import pgettext
from marshmallow import ValidationError, fields

from services.reporting import charts, domain, queries
from services.reporting.schemas import BEFORE_FROM, TOO_LONG, SummaryQuerySchema
from shared.auth import ui_roles
from shared.clock import utcnow
from shared.partners import DIRECTORY
from shared.reference import SITES
from shared.web import ui_language

bp = Blueprint("reports_ui", __name__, template_folder="templates")


def _default_period() -> dict[str, str]:
    """This calendar year so far (the city's)."""
    today = domain.city_day(utcnow())
    return {"from": date(today.year, 1, 1).isoformat(), "to": today.isoformat()}


def _interval(start: date, end: date) -> str:
    """Bars the chart can show: days for a month, weeks for a quarter, else months."""
    days = (end - start).days
    return "day" if days <= 31 else "week" if days <= 92 else "month"


@bp.get("/reports")
@ui_roles("management")
def dashboard():
    given = {k: v for k, v in request.args.items() if v}
    asked = {**_default_period(), **given}
    try:
        query = SummaryQuerySchema().load(asked)
    except ValidationError as exc:
        return render_template("reporting/dashboard.html", errors=page_errors(exc.messages),
                               labels=input_labels(), asked=asked, sites=SITES,
                               partners=DIRECTORY, figures=None), 422
    filters = {f: query[f] for f in ("site", "partner") if query.get(f)}
    period = queries.Period(query["start"], query["end"], filters=filters)
    interval = _interval(query["start"], query["end"])
    with current_app.extensions["lotse"].engine.connect() as conn:
        figures = queries.summary(conn, period)
        # a consultation has no partner (a referral has its consultation's site)
        trend = queries.consultation_rows(conn, queries.Period(
            query["start"], query["end"], interval,
            {k: v for k, v in filters.items() if k == "site"}), ["nationality_group"])
        by_partner = queries.referral_rows(conn, queries.Period(
            query["start"], query["end"], filters=filters), ["partner"])
        # a ticket has a site, but no partner
        queue_by_site = queries.queue_rows(conn, queries.Period(
            query["start"], query["end"],
            filters={k: v for k, v in filters.items() if k == "site"}), ["site"])
    return render_template("reporting/dashboard.html", errors=None, asked=asked, sites=SITES,
                           partners=DIRECTORY, figures=figures, by_partner=by_partner,
                           queue_by_site=queue_by_site, ticket_statuses=ticket_statuses(),
                           review=review_table(figures["review"]),
                           chart=trend_chart(trend), export=export_query(query))


def ticket_statuses() -> dict[str, str]:
    """How far a walk-in ticket got, in words (domain.TICKET_REACHED's statuses)."""
    return {domain.WAITING: pgettext("ticket status", "still waiting"),
            domain.CALLED: pgettext("ticket status", "called, not yet closed"),
            domain.SERVED: pgettext("ticket status", "served"),
            domain.NO_SHOW: pgettext("ticket status", "did not come when called"),
            domain.LEFT: pgettext("ticket status", "left without being served")}


def input_labels() -> dict[str, str]:
    """The filters' inputs as the page names them."""
    return {"from": _("From"), "to": pgettext("reports", "To"), "site": _("Site"),
            "partner": _("Partner")}


def page_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """The schema's errors as the page shows them: at their input, in the reader's language;
    a parameter the page has no input for under `other`."""
    errors: dict[str, list[str]] = {}
    for name, found in messages.items():
        if name in input_labels():
            errors.setdefault(name, []).extend(
                _said(str(m)) for m in (found if isinstance(found, list) else [found]))
        else:
            errors.setdefault("other", []).append(pgettext(
                "reports", "This page has no filter named %(name)s.", name=name))
    return errors


def _said(message: str) -> str:
    """One of marshmallow's or the schema's messages, translated."""
    if message == fields.Field.default_error_messages["required"]:
        return pgettext("reports", "Please enter a date.")
    if message == fields.Date.default_error_messages["invalid"]:
        return pgettext("reports", "Not a valid date.")
    if message == BEFORE_FROM:
        return pgettext("reports", "Must not be before the first day.")
    if message == TOO_LONG:
        return pgettext("reports", "At most ten years after the first day.")
    return pgettext("reports", "Not a valid value.")


def review_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The review's table: a row per site, a column per nationality group, with totals."""
    cells: dict[str, dict[str, int]] = {}
    for row in rows:
        cells.setdefault(row["site"], {})[row["nationality_group"]] = row["consultations"]
    groups = domain.NATIONALITY_GROUPS
    totals = {g: sum(c.get(g, 0) for c in cells.values()) for g in groups}
    return {"groups": groups, "rows": [(site, [c.get(g, 0) for g in groups], sum(c.values()))
                                       for site, c in sorted(cells.items())],
            "totals": [totals[g] for g in groups], "total": sum(totals.values())}


def period_label(label: str, lang: str) -> str:
    """A period as people read it: 07.03. / Mar 7, KW 10 / W10, März 22 / Mar 22, Q1 2022."""
    if "-W" in label:
        year, week = label.split("-W")
        return f"KW {int(week)}/{year[2:]}" if lang == "de" else f"W{int(week)} {year}"
    if "-Q" in label or "-" not in label:
        return label.replace("-", " ")
    parts = [int(p) for p in label.split("-")]
    if len(parts) == 3:
        return format_date(date(*parts), "dd.MM." if lang == "de" else "MMM d", locale=lang)
    return format_date(date(parts[0], parts[1], 1), "MMM yy", locale=lang)


def trend_chart(rows: list[dict[str, Any]]):
    lang = ui_language()
    periods = sorted({r["period"] for r in rows})
    values: dict[str, dict[str, int]] = {}
    for r in rows:
        values.setdefault(period_label(r["period"], lang), {})[r["nationality_group"]] = \
            r["consultations"]
    periods = [period_label(p, lang) for p in periods]
    series = [charts.Series(domain.UKRAINE, pgettext("reports", "Ukraine")),
              charts.Series("other", pgettext("reports", "other nationalities"))]
    return charts.stacked_bars(periods, values, series,
                               pgettext("reports", "Consultations over time"))


def export_query(query: dict[str, Any]) -> dict[str, str]:
    """The dashboard's period and filters as the API's queries (its exports)."""
    period = f"from={query['start'].isoformat()}&to={query['end'].isoformat()}"
    site = f"&site={query['site']}" if query.get("site") else ""
    return {"consultations": period + site, "queue": period + site,
            "referrals": period + (f"&partner={query['partner']}" if query.get("partner")
                                   else "")}
