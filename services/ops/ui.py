"""Web UI of the operator console: live flow, topology, traces, dead letters."""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from sqlalchemy import select

from services.ops import console, dead_letters, tables
from shared.auth import current_principal, ui_roles

bp = Blueprint("ops_ui", __name__, template_folder="templates")


def _engine():
    return current_app.extensions["lotse"].engine


@bp.get("/ops")
@ui_roles("operator")
def overview():
    return render_template("ops/console.html", filters={k: request.args.get(k, "")
                                                         for k in console.FILTERS})


@bp.get("/ops/trace")
@ui_roles("operator")
def trace():
    any_id = request.args.get("id", "").strip()
    result, error = None, None
    if any_id:
        try:
            result = console.trace(_engine(), current_app.extensions["ops_console"].topology,
                                   any_id)
        except console.NothingToTrace as exc:
            error = str(exc)
    return render_template("ops/trace.html", any_id=any_id, trace=result, error=error)


SELECTION_KEYS = ("queue", "service", "event_type", "reason")


@bp.get("/ops/dead-letters")
@ui_roles("operator")
def dead_letter_list():
    selection = {k: request.args.get(k, "").strip() for k in SELECTION_KEYS}
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
                           selection=selection, status=status, audit=audit)


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
    except (dead_letters.NotFound, dead_letters.Conflict) as exc:
        flash(str(exc), "error")
    return redirect(url_for(".dead_letter_list"))


@bp.post("/ops/dead-letters/<int:dead_letter_id>/discard")
@ui_roles("operator")
def discard(dead_letter_id):
    try:
        dead_letters.discard(_engine(), dead_letter_id, current_principal().username,
                             request.form.get("note", ""))
        flash(_("Message %(id)s was discarded.", id=dead_letter_id))
    except (LookupError, ValueError) as exc:  # unknown, settled already, or no note
        flash(str(exc), "error")
    return redirect(url_for(".dead_letter_list"))


@bp.post("/ops/dead-letters/replay")
@ui_roles("operator")
def replay_selection():
    selection = {k: request.form.get(k, "").strip() for k in SELECTION_KEYS}
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
    return render_template("ops/replay.html", batch=batch)
