"""JSON API of the operator console (/api/v1/ops/...): flow, traces, dead letters, alerts."""
from __future__ import annotations

import json
import time

from flask import Blueprint as FlaskBlueprint
from flask import Response, abort, current_app, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from services.ops import console, dead_letters, tables
from services.ops.schemas import (AuditSchema, BatchSchema, ChartQuerySchema, ChartSchema,
                                  DeadLetterListSchema, DeadLetterQuerySchema, DeadLetterSchema,
                                  DiscardSchema, EventListSchema, EventQuerySchema,
                                  OverviewSchema, SelectionSchema, SettledSchema, TraceSchema)
from shared.auth import api_roles, current_principal
from shared.web import FieldError

blp = Blueprint("ops_console", __name__, url_prefix="/api/v1/ops",
                description="Operator console: event flow, traces, dead letters, alerts")
stream = FlaskBlueprint("ops_stream", __name__)
STREAM_SECONDS = 55  # then the browser's EventSource reconnects with Last-Event-ID
LOOK_BACK = 50  # seqs: how far back a late commit is still picked up


def runtime():
    return current_app.extensions["ops_console"]


def engine():
    return current_app.extensions["lotse"].engine


def actor() -> str:
    return current_principal().username


@blp.route("/events")
class Events(MethodView):
    @api_roles("operator")
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventListSchema)
    def get(self, query):
        """Recent events (newest first), or those after a seq (oldest first), filtered."""
        last = console.last_seq(engine())  # before the items: the stream resumes from here
        items = console.recent_events(engine(), query, query["after"], query["limit"])
        return {"items": items, "last_seq": max([last] + [i["seq"] for i in items])}


@stream.get("/api/v1/ops/events/stream")
@api_roles("operator")
def event_stream():
    """Server-sent events: every new journal entry matching the filters, as it arrives."""
    filters = {k: request.args.get(k) for k in console.FILTERS}
    start = request.headers.get("Last-Event-ID") or request.args.get("after")
    after = int(start) if start and start.isdigit() else console.last_seq(engine())
    db = engine()

    def events():
        nonlocal after
        # journal rows commit out of seq order (several consumer threads): look back a
        # little each time and send what was not sent yet
        newest = after
        sent = {i["seq"] for i in console.recent_events(db, filters, max(0, after - LOOK_BACK),
                                                        500) if i["seq"] <= after}
        ends, beat = time.monotonic() + STREAM_SECONDS, time.monotonic()
        yield "retry: 1000\n\n"
        while time.monotonic() < ends:
            for item in console.recent_events(db, filters, max(0, after - LOOK_BACK), 500):
                if item["seq"] in sent or item["seq"] <= after - LOOK_BACK:
                    continue
                sent.add(item["seq"])
                newest = max(newest, item["seq"])
                yield f"id: {newest}\nevent: event\ndata: {json.dumps(item)}\n\n"
                beat = time.monotonic()
            after = newest
            sent = {s for s in sent if s > after - LOOK_BACK}
            if time.monotonic() - beat > 10:
                yield ": still here\n\n"
                beat = time.monotonic()
            time.sleep(0.25)

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@blp.route("/trace/<string:any_id>")
class Trace(MethodView):
    @api_roles("operator")
    @blp.response(200, TraceSchema)
    def get(self, any_id):
        """Every event of the flows of an intake, referral or event id, in causal order with
        timings, and the current state of each referral."""
        try:
            return console.trace(engine(), runtime().topology, any_id)
        except console.NothingToTrace as exc:
            abort(404, str(exc))


@blp.route("/overview")
class Overview(MethodView):
    @api_roles("operator")
    @blp.response(200, OverviewSchema)
    def get(self):
        """The topology with live queue figures, backlogs and active alerts."""
        rt = runtime()
        figures, broker_error = rt.figures.survey()  # the broker down: no figures, an alert
        settings = current_app.extensions["lotse"].settings
        backlogs = console.backlogs(engine(), rt.databases, figures, broker_error=broker_error,
                                    service_metrics=rt.metrics)
        return {"mode": "embedded" if settings.embedded else "rabbitmq",
                "topology": console.topology_picture(rt.topology, figures),
                "backlogs": backlogs,
                "alerts": console.overview_alerts(engine(), backlogs)}


@blp.route("/charts")
class Charts(MethodView):
    @api_roles("operator")
    @blp.arguments(ChartQuerySchema, location="query")
    @blp.response(200, ChartSchema)
    def get(self, query):
        """Events and errors per service over the last hour (per minute) or day (per 30 min)."""
        return console.charts(engine(), query["window"])


def _may_see_personal_data() -> bool:
    return current_principal().role == "admin"


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @api_roles("operator")
    @blp.arguments(DeadLetterQuerySchema, location="query")
    @blp.response(200, DeadLetterListSchema)
    def get(self, query):
        """Parked messages with reason and attempts (payloads masked)."""
        with engine().connect() as conn:
            rows = dead_letters.listing(conn, query, query["limit"], query["status"])
            counts = dead_letters.counts(conn)
        return {"items": [dead_letters.view(r, may_see_personal_data=False) for r in rows],
                "counts": counts}


@blp.route("/dead-letters/<int:dead_letter_id>")
class DeadLetter(MethodView):
    @api_roles("operator")
    @blp.response(200, DeadLetterSchema)
    def get(self, dead_letter_id):
        """One dead letter; its payload unmasked only for admins (and that view is audited)."""
        return _settle(lambda: dead_letters.read(
            engine(), dead_letter_id, actor(), _may_see_personal_data(),
            current_app.extensions["lotse"].clock))


@blp.route("/dead-letters/<int:dead_letter_id>/replay")
class ReplayOne(MethodView):
    @api_roles("operator")
    @blp.response(200, SettledSchema)
    def post(self, dead_letter_id):
        """Put one parked message back into its own queue (audited)."""
        return _settle(lambda: dead_letters.replay(engine(), runtime().lot, dead_letter_id,
                                                   actor()))


@blp.route("/dead-letters/<int:dead_letter_id>/discard")
class DiscardOne(MethodView):
    @api_roles("operator")
    @blp.arguments(DiscardSchema)
    @blp.response(200, SettledSchema)
    def post(self, data, dead_letter_id):
        """Give up on a parked message, saying why (audited)."""
        return _settle(lambda: dead_letters.discard(engine(), dead_letter_id, actor(),
                                                    data["note"]))


def _settle(action):
    try:
        return action()
    except dead_letters.NotFound as exc:
        abort(404, str(exc))
    except dead_letters.Conflict as exc:
        abort(409, str(exc))


@blp.route("/replays")
class Replays(MethodView):
    @api_roles("operator")
    @blp.arguments(SelectionSchema)
    @blp.response(202, BatchSchema)
    def post(self, selection):
        """Replay a selection of parked messages as a batch; follow it at /replays/<id>."""
        chosen = {k: v for k, v in selection.items() if v and k != "all"}
        if not chosen and not selection["all"]:
            raise FieldError("all", "name ids or a filter, or set all to true")
        return dead_letters.start_batch(engine(), chosen, actor())


@blp.route("/replays/<string:batch_id>")
class Replay(MethodView):
    @api_roles("operator")
    @blp.response(200, BatchSchema)
    def get(self, batch_id):
        """A replay batch with its progress."""
        try:
            return dead_letters.batch(engine(), batch_id)
        except dead_letters.NotFound as exc:
            abort(404, str(exc))


@blp.route("/audit")
class Audit(MethodView):
    @api_roles("operator")
    @blp.response(200, AuditSchema)
    def get(self):
        """The latest operator actions, newest first."""
        a = tables.audit
        with engine().connect() as conn:
            rows = conn.execute(select(a).order_by(a.c.id.desc()).limit(200)).all()
        return {"items": [{"at": r.at.isoformat(), "actor": r.actor, "action": r.action,
                           "target": r.target, "detail": r.detail} for r in rows]}
