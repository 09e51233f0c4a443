"""Web UI of the partner adapter: partners see and answer their cases."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from services.partner_adapter import handlers, notices, repository
from services.partner_adapter.domain import shows_person
from shared.access import accessed_records, report_access
from shared.auth import current_principal, ui_roles
from shared.config import PORTAL_PARTNERS
from shared.events.contracts import PARTNER_REPORTED_STATUSES

PORTAL_OUTCOMES = ("counselling_started", "course_place_offered", "appointment_kept",
                   "application_filed", "place_offered", "case_closed")

bp = Blueprint("partner_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


@bp.get("/partner/cases")
@ui_roles("partner", "operator")
def partner_cases():
    principal = current_principal()
    with deps().session_factory() as s:
        cases = repository.listing(s, principal.partner if principal.role == "partner" else None)
        told: dict[str, list] = {}  # consent withdrawn / erase: shown on the case, closes it
        for n in notices.notices_for(s, case_ids=[c.id for c in cases]):
            told.setdefault(n.case_id, []).append(n)
        withdrawn = notices.withdrawn_bases(s, [c.basis for c in cases])
    shown = [c for c in cases if shows_person(c, c.basis in withdrawn)]
    # every case showing the person's data is a disclosure to whoever reads this page
    report_access(deps().uow(), principal, "partner_adapter", "listed", "ui",
                  [accessed_records(referral_id=c.referral_id) for c in shown])
    return render_template("partner_adapter/cases.html", cases=cases, portal=PORTAL_PARTNERS,
                           outcomes=PORTAL_OUTCOMES, notices=told,
                           shown={c.id for c in shown}, withdrawn=withdrawn)


@bp.post("/partner/cases/<uuid:case_id>/report")
@ui_roles("partner")
def report(case_id):
    """Partners without a case API answer here; Lotse hears it like a signed callback."""
    principal = current_principal()
    status = request.form.get("status", "")
    if principal.partner not in PORTAL_PARTNERS or status not in PARTNER_REPORTED_STATUSES:
        abort(400)
    outcome = request.form.get("outcome") if status == "completed" else None
    result = handlers.record_portal_report(principal.partner, str(case_id), status,
                                           request.form.get("reason") or None, outcome,
                                           deps().uow())
    if result == "not_found":  # also another partner's case: existence does not leak
        abort(404)
    if result == "closed":
        flash(_("This case is closed (withdrawn by the referrer, consent withdrawn, data to be "
                "erased, or answered for good); the answer was not recorded."))
        return redirect(url_for(".partner_cases")), 303
    flash(_("Your answer was recorded."))
    return redirect(url_for(".partner_cases"))

