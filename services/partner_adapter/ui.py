"""Web UI of the partner adapter: partners see their cases, operators watch the event flow."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from services.partner_adapter import repository
from services.registry import BUS_SERVICES
from shared.auth import current_principal, ui_roles

bp = Blueprint("partner_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


@bp.get("/partner/cases")
@ui_roles("partner", "operator")
def partner_cases():
    principal = current_principal()
    with deps().session_factory() as s:
        cases = repository.listing(s, principal.partner if principal.role == "partner" else None)
    return render_template("partner_adapter/cases.html", cases=cases)


@bp.get("/ops")
@ui_roles("operator")
def ops():
    return render_template("partner_adapter/ops.html", services=BUS_SERVICES)
