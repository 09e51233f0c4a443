"""Web UI of the partner adapter: partners see and answer their cases."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from services.partner_adapter import handlers, notices, repository
from services.partner_adapter.domain import answers_open, shows_person
from shared import words
from shared.access import accessed_records, report_access
from shared.auth import current_principal, ui_roles
from shared.config import PORTAL_PARTNERS
from shared.events.contracts import PARTNER_REPORTED_STATUSES
from shared.web import ui_language

PORTAL_OUTCOMES = ("counselling_started", "course_place_offered", "appointment_kept",
                   "application_filed", "place_offered", "case_closed")
# The portal's words for what a partner answers (the codes travel, the words are shown).
ANSWERS = {"accepted": _l("Accept"), "rejected": _l("Reject"),
           "in-progress": _l("In progress"), "on-hold": _l("Put on hold"),
           "completed": _l("Complete"), "cancelled": _l("Close: the person withdrew")}
REJECTION_REASONS = {"not_eligible": _l("not eligible"), "no_capacity": _l("no capacity"),
                     "person_unreachable": _l("person unreachable"),
                     "wrong_partner": _l("not our service"), "duplicate": _l("duplicate"),
                     "other": _l("other reason (note it)")}
OUTCOMES = {"counselling_started": _l("counselling started"),
            "course_place_offered": _l("course place offered"),
            "appointment_kept": _l("appointment kept"),
            "application_filed": _l("application filed"),
            "place_offered": _l("place offered"), "case_closed": _l("case closed")}

bp = Blueprint("partner_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


def _refusal(case_id) -> str:
    """Why the referral lifecycle refused the answer, in the partner's words: the answers
    the case still takes after its last one."""
    with deps().session_factory() as s:
        case = repository.get(s, str(case_id))
    previous = case.partner_status if case else None
    allowed = ", ".join(str(ANSWERS.get(a, a)) for a in answers_open(previous))
    last = words.label(previous, "referral_status", ui_language()) if previous else None
    if not allowed:
        return _("the case is closed (last answer: %(last)s)", last=last or "—")
    if last is None:
        return _("this case takes only these answers now: %(allowed)s", allowed=allowed)
    return _("after “%(last)s” this case takes only these answers: %(allowed)s",
             last=last, allowed=allowed)


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
                           outcomes=OUTCOMES, answers=ANSWERS, answers_open=answers_open,
                           rejection_reasons=REJECTION_REASONS, notices=told,
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
    if outcome is not None and outcome not in OUTCOMES:
        abort(400)
    reason = (request.form.get("reason") or "").strip() or None
    if status == "rejected":  # a rejection says why, coded (a note makes 'other' precise)
        code = request.form.get("reason_code", "")
        if code not in REJECTION_REASONS:
            flash(_("A rejection needs a reason: choose one; the answer was not sent."))
            return redirect(url_for(".partner_cases")), 303
        reason = reason if code == "other" and reason else code
    try:
        result = handlers.record_portal_report(principal.partner, str(case_id), status, reason,
                                               outcome, deps().uow())
    except handlers.AnswerRefused:  # never "saved": the partner learns why
        flash(_("The answer was not sent: %(why)s", why=_refusal(case_id)))
        return redirect(url_for(".partner_cases")), 303
    if result == "not_found":  # also another partner's case: existence does not leak
        abort(404)
    if result == "closed":
        flash(_("This case is closed (withdrawn by the referrer, consent withdrawn, data to be "
                "erased, or answered for good); the answer was not recorded."))
        return redirect(url_for(".partner_cases")), 303
    flash(_("Your answer was sent: %(answer)s.", answer=ANSWERS[status]))
    return redirect(url_for(".partner_cases"))

