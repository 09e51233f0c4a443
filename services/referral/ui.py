"""Staff web UI of the referral service: the referral work list and a referral's history."""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from marshmallow import ValidationError

from services.referral import handlers, repository
from services.referral.api import work_queue
from services.referral.domain import REASONS
from services.referral.schemas import CancelSchema, ReassignSchema, WorkQueueQuerySchema
from shared.auth import current_principal, ui_roles
from shared.clock import utcnow
from shared.events.contracts import REFERRAL_STATUSES

bp = Blueprint("referral_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


@bp.get("/referrals")
@ui_roles("staff", "operator")
def referral_list():
    status = request.args.get("status") or None
    if status not in (None, *REFERRAL_STATUSES):
        abort(400)
    with deps().session_factory() as s:
        found = repository.find(s, status=status)
    return render_template("referral/list.html", referrals=found, status=status,
                           statuses=REFERRAL_STATUSES)


@bp.get("/referrals/<uuid:referral_id>")
@ui_roles("staff", "operator")
def referral_detail(referral_id):
    with deps().session_factory() as s:
        referral = repository.get(s, str(referral_id))
        services = sorted({(r.partner, r.service) for r in repository.rules(s)})
    if referral is None:
        abort(404)
    return render_template("referral/detail.html", r=referral, services=services,
                           cancel_reasons=REASONS["cancelled"])


@bp.get("/work-queue")
@ui_roles("staff", "operator")
def queue():
    """What needs a human now, with the actions at hand."""
    try:
        query = WorkQueueQuerySchema().load({k: v for k, v in request.args.items() if v})
    except ValidationError:
        abort(400)
    with deps().session_factory() as s:
        services = sorted({(r.partner, r.service) for r in repository.rules(s)})
        partners = sorted({p for p, _ in services})
    return render_template("referral/queue.html", items=work_queue(deps().session_factory,
                                                                   **query),
                           query=query, partners=partners, services=services,
                           cancel_reasons=REASONS["cancelled"], now=utcnow())


@bp.post("/referrals/<uuid:referral_id>/cancel")
@ui_roles("staff")
def cancel(referral_id):
    try:
        data = CancelSchema().load({"reason": request.form.get("reason", ""),
                                    "note": request.form.get("note") or None})
        handlers.cancel_referral(str(referral_id), current_principal().username,
                                 data["reason"], data["note"], deps().uow())
        flash(_("Referral cancelled; the partner is told."))
    except (ValidationError, handlers.ReferralActionError) as exc:
        flash(_("Not cancelled:") + f" {exc}")
    back = request.form.get("back", "")
    local = back.startswith("/") and not back.startswith("//") and "\\" not in back
    return redirect(back if local else url_for(".referral_detail", referral_id=referral_id))


@bp.post("/referrals/<uuid:referral_id>/reassign")
@ui_roles("staff")
def reassign(referral_id):
    partner, _sep, service = request.form.get("target", "").partition("/")
    try:
        data = ReassignSchema().load({"partner": partner, "service": service,
                                      "note": request.form.get("note") or None})
        new_id = handlers.reassign_referral(str(referral_id), data["partner"], data["service"],
                                            current_principal().username, data["note"],
                                            deps().uow())
        flash(_("Referred to %(partner)s (%(service)s).", partner=partner, service=service))
        return redirect(url_for(".referral_detail", referral_id=new_id))
    except (ValidationError, handlers.ReferralActionError) as exc:
        flash(_("Not re-assigned:") + f" {exc}")
    return redirect(url_for(".referral_detail", referral_id=referral_id))
