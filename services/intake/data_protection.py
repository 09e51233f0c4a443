"""Data protection pages and API of the intake service: a person's access log (Art. 15) and
the record of processing activities (Art. 30); `note_access` for the intake's own views."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, session
from flask.views import MethodView
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_smorest import Blueprint as ApiBlueprint
from markupsafe import Markup, escape
from marshmallow import RAISE, Schema, fields, validate

from services.intake import access_log
from shared.auth import api_roles, current_principal, ui_roles
from shared.web import ui_language

bp = Blueprint("data_protection_ui", __name__, template_folder="templates")
blp = ApiBlueprint("access_log", __name__, url_prefix="/api/v1/persons",
                   description="Who viewed or changed a person's record (Art. 15)")


def deps():
    return current_app.extensions["lotse"]


# Lotse's own services and the ways in, as the access log and the erasure page name them.
LOTSE_SERVICES = {"intake": lazy_gettext("counter intake"), "referral": lazy_gettext("referrals"),
                  "partner_adapter": lazy_gettext("partner connection"),
                  "ops": lazy_gettext("operations console"),
                  "reporting": lazy_gettext("reporting")}
ACCESS_CHANNELS = {"ui": lazy_gettext("web page"), "api": lazy_gettext("programming interface")}


def note_access(action: str, channel: str, **ids) -> None:
    """Log the current user's access to the records named (person_ids, intake_ids,
    referral_ids, inbound_referral_ids); the intake service's views call this after
    producing their answer."""
    d = deps()
    access_log.note(d.session_factory, current_principal(), action, channel, d.clock(), **ids)


# The intake list's rows this session logged: its refresh logs only rows not among them.
LOGGED_ROWS_KEY = "logged_intakes"
LOGGED_ROWS_KEPT = 60  # three pages of 20, and small enough for the session cookie


def note_listed_intakes(intake_ids, *, refresh: bool) -> None:
    """The intake list: a load logs every row shown. A refresh (X-Partial, which the open
    page asks for every 3 seconds, but any client can send) logs only the rows this session
    has not logged yet, so the header cannot hide an access and the refresh does not flood
    the log. A client without the session cookie gets every row logged each time."""
    shown = [str(i) for i in intake_ids]
    logged = list(session.get(LOGGED_ROWS_KEY) or [])
    note_access("listed", "ui", intake_ids=[i for i in shown if i not in logged] if refresh
                else shown)
    updated = access_log.remembered(logged, shown, LOGGED_ROWS_KEPT)
    if updated != logged:  # an unchanged list need not resend the cookie
        session[LOGGED_ROWS_KEY] = updated


class AccessLogQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class AccessLogEntrySchema(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String(metadata={"description": "username"})
    role = fields.String()
    partner = fields.String(allow_none=True, metadata={"description": "partner users' "
                                                       "organisation"})
    service = fields.String(metadata={"description": "the service that showed or changed it"})
    channel = fields.String(metadata={"description": "ui | api"})
    action = fields.String(metadata={"description": "viewed, listed, created, changed, "
                                     "merged, unmerged, consent_given, consent_withdrawn, "
                                     "exported, ..."})
    person_id = fields.String(allow_none=True)
    intake_id = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    inbound_referral_id = fields.String(allow_none=True, metadata={
        "description": "a partner's referral of the person to the centre"})


class AccessLogSchema(Schema):
    person_id = fields.UUID()
    items = fields.List(fields.Nested(AccessLogEntrySchema))


def _entries(person_id, limit: int) -> list[dict] | None:
    with deps().session_factory() as s:
        if not access_log.person_exists(s, str(person_id)):
            return None
        return access_log.entries_for(s, str(person_id), limit)


@blp.route("/<uuid:person_id>/access-log")
class PersonAccessLog(MethodView):
    @api_roles("staff")
    @blp.arguments(AccessLogQuerySchema, location="query")
    @blp.response(200, AccessLogSchema)
    def get(self, query, person_id):
        """Who viewed or changed this person's record, newest first (ids and actions only)."""
        items = _entries(person_id, query["limit"])
        if items is None:
            abort(404, _("There is no person with this id."))
        return {"person_id": person_id, "items": items}


@bp.get("/persons/<uuid:person_id>/access-log")
@ui_roles("staff")
def access_log_page(person_id):
    """The access log to show or hand to the person (Art. 15)."""
    items = _entries(person_id, 500)
    if items is None:
        abort(404)
    return render_template("intake/access_log.html", person_id=person_id, items=items,
                           services=LOTSE_SERVICES, channels=ACCESS_CHANNELS)


@bp.get("/record-of-processing")
@ui_roles("admin")
def record_of_processing():
    """The Art. 30 record, generated from the configuration this process runs with."""
    from shared.processing_record import build_record

    return render_template("intake/record_of_processing.html", record=build_record(
        dpo_contact=deps().settings.dpo_contact, language=ui_language()),
        inline_code=_inline_code)


def _inline_code(text: str) -> Markup:
    """The record's Markdown `code` spans (a partner's code) as code, the rest as text."""
    parts = str(text).split("`")
    return Markup("").join(Markup("<code>%s</code>") % part if i % 2 else escape(part)
                           for i, part in enumerate(parts))
