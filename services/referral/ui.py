"""Staff web UI of the referral service: the referral work list and a referral's history."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from services.referral import repository
from shared.auth import ui_roles
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
    if referral is None:
        abort(404)
    return render_template("referral/detail.html", r=referral)
