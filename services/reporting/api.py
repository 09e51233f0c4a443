"""JSON API of the reports (/api/v1/reports/...): consultations, referrals, the walk-in queue,
a period's summary.

Management and admins read every figure (exact counts); a partner reads the referral figures
of its own cases only. `format=csv|xlsx` answers a file; `suppress_under=N` withholds counts
under N for readers outside the centre.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import RAISE
from flask_smorest import Blueprint

from services.reporting import domain, exports, queries
from services.reporting.schemas import (ConsultationQuerySchema, QueueQuerySchema,
                                        ReferralQuerySchema, RowsSchema, SummaryQuerySchema,
                                        SummarySchema)
from shared.auth import api_roles, current_principal

blp = Blueprint("reports", __name__, url_prefix="/api/v1/reports",
                description="The centre's figures: consultations, referrals, the walk-in "
                            "queue, a period's summary")
REPORT_ROLES = ("management",)  # and admin, who passes every role check
# format=csv or xlsx: the same 200 as a file
FILES = {"200": {"description": "OK", "content": {
    "application/json": {"schema": RowsSchema},
    "text/csv": {"schema": {"type": "string"}},
    exports.XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}


def engine():
    return current_app.extensions["lotse"].engine


def period(query: dict[str, Any], filters: Sequence[str]) -> queries.Period:
    return queries.Period(query["start"], query["end"], query.get("interval"),
                          {f: query[f] for f in filters if query.get(f)})


def answer(query: dict[str, Any], rows: list[dict[str, Any]], measures: Sequence[str],
           suppression: domain.Suppression | None, title: str) -> Any:
    """The rows as JSON, CSV or a workbook, withheld cells marked."""
    if suppression:
        rows = suppression.apply(rows)
    marker = suppression.marker() if suppression else None
    columns = exports.columns_of(query["by"], measures, query.get("interval"))
    name = f"{title}-{query['start']}-{query['end']}"
    if query["format"] == "csv":
        return Response(exports.to_csv(rows, columns, marker), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if query["format"] == "xlsx":
        return Response(exports.to_xlsx(rows, columns, title, marker),
                        mimetype=exports.XLSX_TYPE,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return {"rows": rows, **({"suppressed_under": suppression.under} if suppression else {})}


def _read(fetch: Callable[[Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    with engine().connect() as conn:
        return fetch(conn)


@blp.route("/consultations")
class Consultations(MethodView):
    @api_roles(*REPORT_ROLES)
    @blp.doc(responses=FILES)
    @blp.arguments(ConsultationQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RowsSchema)
    def get(self, query):
        """Consultations in a period, counted by any of the consultation dimensions."""
        p = period(query, ("site", "nationality_group"))
        rows = _read(lambda conn: queries.consultation_rows(conn, p, query["by"]))
        under = query.get("suppress_under")
        return answer(query, rows, ("consultations",),
                      domain.Suppression(under, "consultations") if under else None,
                      "consultations")


@blp.route("/referrals")
class Referrals(MethodView):
    @api_roles(*REPORT_ROLES, "partner")
    @blp.doc(responses=FILES)
    @blp.arguments(ReferralQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RowsSchema)
    def get(self, query):
        """Referrals opened in a period by partner, service, need, status, outcome or re-route,
        with the hours to the partner's acknowledgement and acceptance (median, p90). A
        partner sees its own referrals only."""
        principal = current_principal()
        if principal.role == "partner":
            query["partner"] = principal.partner
        p = period(query, ("partner", "service", "need", "site", "nationality_group"))
        rows = _read(lambda conn: queries.referral_rows(conn, p, query["by"]))
        under = query.get("suppress_under")
        suppression = domain.Suppression(under, "referrals", queries.REFERRAL_MEASURES[1:]) \
            if under else None
        return answer(query, rows, queries.REFERRAL_MEASURES, suppression, "referrals")


@blp.route("/queue")
class Queue(MethodView):
    @api_roles(*REPORT_ROLES)
    @blp.doc(responses=FILES)
    @blp.arguments(QueueQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, RowsSchema)
    def get(self, query):
        """Walk-in tickets drawn in a period by site, language, topic, status or interpreter
        needed: how many, served, no-shows, and the minutes from drawing to being called
        (median, p90)."""
        p = period(query, ("site",))
        rows = _read(lambda conn: queries.queue_rows(conn, p, query["by"]))
        under = query.get("suppress_under")
        suppression = domain.Suppression(under, "tickets", queries.QUEUE_MEASURES[1:]) \
            if under else None
        return answer(query, rows, queries.QUEUE_MEASURES, suppression, "queue")


@blp.route("/summary")
class Summary(MethodView):
    @api_roles(*REPORT_ROLES)
    @blp.arguments(SummaryQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, SummarySchema)
    def get(self, query):
        """Every figure of a period: consultations by each dimension and the top
        nationalities, referrals by partner, service, status and outcome with their times to
        acknowledgement and acceptance, re-routes, deadline breaches, on-hold reasons,
        consent withdrawals, erasures, the review's table (site × nationality group), and
        the walk-in queue's tickets and waiting times."""
        p = queries.Period(query["start"], query["end"],
                           filters={f: query[f] for f in ("site", "partner") if query.get(f)})
        with engine().connect() as conn:
            found = queries.summary(conn, p)
        return {**found, "start": found.pop("from"), "end": found.pop("to")}
