"""Web UI of the operator console: live flow, topology, traces, dead letters."""
from __future__ import annotations

import re

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select

from services.ops import console, dead_letters, tables
from shared.bus.causes import ParkCause
from shared import words
from shared.auth import current_principal, ui_roles
from shared.partners import DIRECTORY
from shared.web import ui_language

bp = Blueprint("ops_ui", __name__, template_folder="templates")

# The audit's actions and the replay batches' states as operators read them (codes stay in
# the tables and the API).
AUDIT_ACTIONS = {"view_payload": _l("payload viewed"), "replay": _l("replayed"),
                 "discard": _l("discarded"), "replay_batch": _l("replay of a selection")}
BATCH_STATES = {"running": _l("running"), "finished": _l("finished")}
# The details the audit records (services/ops/dead_letters.py), read back as words around
# the identifiers they name.
_AUDIT_DETAILS = {
    "replay": (re.compile(r"(?P<type>\S+) (?P<event>\S+) into (?P<queue>\S+)", re.S),
               _l("%(type)s %(event)s back into %(queue)s")),
    "discard": (re.compile(r"(?P<type>\S+) (?P<event>\S+) from (?P<queue>\S+): (?P<note>.*)",
                           re.S),
                _l("%(type)s %(event)s from %(queue)s: %(note)s")),
    "replay_batch": (re.compile(r"(?P<n>\d+) message\(s\) selected by (?P<selection>.*)", re.S),
                     _l("%(n)s message(s) selected by %(selection)s")),
}


def audit_action(action: str) -> str:
    return str(AUDIT_ACTIONS.get(action, action))


def audit_detail(action: str, detail: str | None) -> Markup:
    """An audit entry's detail in the UI's words: event types, ids and queues as code, the
    operator's note as typed; a detail of another shape is shown as recorded, as code."""
    if not detail:
        return Markup("")
    known = _AUDIT_DETAILS.get(action)
    found = known[0].fullmatch(detail) if known else None
    if found is None:
        return Markup("<code>%s</code>") % detail
    parts = {k: (Markup('<span translate="no">%s</span>') if k == "note"
                 else Markup("<code>%s</code>")) % v for k, v in found.groupdict().items()}
    return Markup(escape(str(known[1]))) % parts


def _engine():
    return current_app.extensions["lotse"].engine


@bp.get("/ops")
@ui_roles("operator")
def overview():
    lang = ui_language()
    return render_template("ops/console.html", filters={k: request.args.get(k, "")
                                                         for k in console.FILTERS},
                           partner_words={code: words.label(code, "partner", lang)
                                          for code in DIRECTORY})


@bp.get("/ops/trace")
@ui_roles("operator")
def trace():
    any_id = request.args.get("id", "").strip()
    result, error = None, None
    if any_id:
        try:
            result = console.trace(_engine(), current_app.extensions["ops_console"].topology,
                                   any_id)
        except console.NothingToTrace:
            error = _("Nothing in the journal for %(id)s: no event, intake, intake reference, "
                      "referral or correlation id.", id=any_id)
    return render_template("ops/trace.html", any_id=any_id, trace=result, error=error)


SELECTION_KEYS = ("queue", "service", "event_type", "cause", "reason")


def _selection(values) -> dict[str, str]:
    """The filter of a dead-letter list or replay; an unknown cause is refused, never widened
    into every message."""
    selection = {k: values.get(k, "").strip() for k in SELECTION_KEYS}
    if selection["cause"] and selection["cause"] not in set(ParkCause):
        abort(400, _("cause: there is no such cause."))
    return selection


@bp.get("/ops/dead-letters")
@ui_roles("operator")
def dead_letter_list():
    selection = _selection(request.args)
    status = request.args.get("status", "parked")
    if status not in ("parked", "replayed", "discarded"):
        status = "parked"
    full = current_principal().role == "admin"
    with _engine().connect() as conn:
        rows = [dead_letters.view(r, may_see_personal_data=full)
                for r in dead_letters.listing(conn, selection, 200, status)]
        counts = dead_letters.counts(conn)
        a = tables.audit
        audit = conn.execute(select(a).order_by(a.c.id.desc()).limit(20)).all()
    return render_template("ops/dead_letters.html", rows=rows, counts=counts,
                           selection=selection, status=status, audit=audit,
                           audit_action=audit_action, audit_detail=audit_detail)


@bp.get("/ops/dead-letters/<int:dead_letter_id>")
@ui_roles("operator")
def dead_letter(dead_letter_id):
    try:
        item = dead_letters.read(_engine(), dead_letter_id, current_principal().username,
                                 current_principal().role == "admin",
                                 current_app.extensions["lotse"].clock)
    except dead_letters.NotFound:
        abort(404)
    return render_template("ops/dead_letter.html", item=item)


@bp.post("/ops/dead-letters/<int:dead_letter_id>/replay")
@ui_roles("operator")
def replay(dead_letter_id):
    try:
        dead_letters.replay(_engine(), current_app.extensions["ops_console"].lot,
                            dead_letter_id, current_principal().username)
        flash(_("Message %(id)s was put back into its queue.", id=dead_letter_id))
    except dead_letters.NotFound:
        flash(_("There is no message %(id)s.", id=dead_letter_id), "error")
    except dead_letters.Conflict:
        flash(_("Message %(id)s is no longer parked: it was replayed or discarded already.",
                id=dead_letter_id), "error")
    return redirect(url_for(".dead_letter_list"))


@bp.post("/ops/dead-letters/<int:dead_letter_id>/discard")
@ui_roles("operator")
def discard(dead_letter_id):
    try:
        dead_letters.discard(_engine(), dead_letter_id, current_principal().username,
                             request.form.get("note", ""))
        flash(_("Message %(id)s was discarded.", id=dead_letter_id))
    except dead_letters.NotFound:
        flash(_("There is no message %(id)s.", id=dead_letter_id), "error")
    except dead_letters.Conflict:
        flash(_("Message %(id)s is no longer parked: it was replayed or discarded already.",
                id=dead_letter_id), "error")
    except ValueError:  # no note
        flash(_("Say why the message is discarded: it was not discarded."), "error")
    return redirect(url_for(".dead_letter_list"))


@bp.post("/ops/dead-letters/replay")
@ui_roles("operator")
def replay_selection():
    selection = _selection(request.form)
    selection = {k: v for k, v in selection.items() if v}
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit()]
    if ids:
        selection["ids"] = ids
    if not selection and request.form.get("all") != "yes":
        flash(_("Choose messages, a filter, or all."), "error")
        return redirect(url_for(".dead_letter_list"))
    batch = dead_letters.start_batch(_engine(), selection, current_principal().username)
    return redirect(url_for(".replay_batch", batch_id=batch["id"]))


@bp.get("/ops/replays/<string:batch_id>")
@ui_roles("operator")
def replay_batch(batch_id):
    try:
        batch = dead_letters.batch(_engine(), batch_id)
    except dead_letters.NotFound:
        abort(404)
    return render_template("ops/replay.html", batch=batch,
                           batch_states={k: str(v) for k, v in BATCH_STATES.items()})
