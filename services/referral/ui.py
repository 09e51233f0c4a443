"""Staff web UI of the referral service: the referral work list and a referral's history."""
from __future__ import annotations

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from marshmallow import ValidationError

from services.referral import courses_store, handlers, repository, rules, wording
from services.referral.api import work_queue
from services.referral.domain import REASONS
from services.referral.schemas import (CancelSchema, ManualReferralSchema, PreviewInSchema,
                                       ReassignSchema, RoutingRuleInSchema,
                                       WorkQueueQuerySchema)
from shared.access import accessed_records, report_access
from shared import words
from shared.auth import current_principal, ui_roles
from shared.clock import utcnow
from shared.partners import DIRECTORY, services_by_partner
from shared.reference import DISTRICTS, NEEDS, RESIDENCE_PURPOSES, RESIDENCE_STATUSES
from shared.web import ui_language as lang
from shared.events.contracts import REFERRAL_STATUSES

bp = Blueprint("referral_ui", __name__, template_folder="templates")


def deps():
    return current_app.extensions["lotse"]


@bp.context_processor
def _wording():
    """The referral's texts (routing reasons, history notes, who acted) in the UI's words."""
    return {"wording": wording}


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


def _targets(session) -> list[tuple[str, str]]:
    """(partner, service) staff may refer to by hand: what each partner of this service
    offers in the partner directory (the same list the referral's check uses)."""
    offered = services_by_partner()
    return sorted((p.code, service) for p in repository.partners(session)
                  for service in offered.get(p.code, ()))


@bp.get("/referrals/<uuid:referral_id>")
@ui_roles("staff", "operator")
def referral_detail(referral_id):
    with deps().session_factory() as s:
        referral = repository.get(s, str(referral_id))
        services = _targets(s)
        course = (courses_store.get(s, referral.course_id)
                  if referral is not None and referral.course_id else None)
    if referral is None:
        abort(404)
    report_access(deps().uow(), current_principal(), "referral", "viewed", "ui",
                  [accessed_records(referral.person_id, referral.intake_id, referral.id)])
    return render_template("referral/detail.html", r=referral, services=services,
                           cancel_reasons=REASONS["cancelled"], needs=NEEDS, course=course)


@bp.post("/referrals/manual")
@ui_roles("staff")
def manual():
    """A new referral by hand for the same intake (any need, any partner; consent checked)."""
    partner, _sep, service = request.form.get("target", "").partition("/")
    try:
        data = ManualReferralSchema().load({
            "intake_id": request.form.get("intake_id", ""), "need": request.form.get("need", ""),
            "partner": partner, "service": service, "note": request.form.get("note") or None})
        new_id = handlers.refer_by_hand(str(data["intake_id"]), data["need"], data["partner"],
                                        data["service"], current_principal().username,
                                        data["note"], deps().uow())
        flash(_("Referred to %(partner)s (%(service)s).",
                partner=words.partner_name(partner, lang()),
                service=words.service_name(service, lang())))
        return redirect(url_for(".referral_detail", referral_id=new_id))
    except (ValidationError, handlers.ReferralActionError) as exc:
        flash(_("Not referred:") + f" {wording.refused(exc)}")
    return redirect(request.referrer or url_for(".referral_list"))


@bp.get("/work-queue")
@ui_roles("staff", "operator")
def queue():
    """What needs a human now, with the actions at hand."""
    try:
        query = WorkQueueQuerySchema().load({k: v for k, v in request.args.items() if v})
    except ValidationError:
        abort(400)
    with deps().session_factory() as s:
        services = _targets(s)
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
        flash(_("Not cancelled:") + f" {wording.refused(exc)}")
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
        flash(_("Referred to %(partner)s (%(service)s).",
                partner=words.partner_name(partner, lang()),
                service=words.service_name(service, lang())))
        return redirect(url_for(".referral_detail", referral_id=new_id))
    except (ValidationError, handlers.ReferralActionError) as exc:
        flash(_("Not re-assigned:") + f" {wording.refused(exc)}")
    return redirect(url_for(".referral_detail", referral_id=referral_id))


def _codes(text: str | None) -> list[str]:
    """'uk, RU' -> ['uk', 'ru']"""
    return [x.strip().lower() for x in (text or "").split(",") if x.strip()]


@bp.route("/routing-rules", methods=["GET", "POST"])
@ui_roles("staff", "operator")
def routing_rules():
    """The routing table with a preview: where would this intake go, and why?"""
    results, errors, form = None, {}, request.form if request.method == "POST" else {}
    if request.method == "POST":
        try:
            data = PreviewInSchema().load({
                "birth_date": form.get("birth_date", ""),
                "residence_status": form.get("residence_status", ""),
                "nationality": (form.get("nationality") or "XX").upper(),
                "languages": _codes(form.get("languages")),
                "needs": form.getlist("needs"), "on_date": form.get("on_date") or None,
                "first_issue_date": form.get("first_issue_date") or None,
                "children_born": [b for b in (form.get("child_born"),) if b],
                "district": form.get("district") or None,
                "arrival_date": form.get("arrival_date") or None,
                "residence_purpose": form.get("residence_purpose") or None})
            results = rules.preview(deps().session_factory, data, utcnow().date())
        except ValidationError as exc:
            errors = wording.form_errors(exc.messages)
    with deps().session_factory() as s:
        table = sorted(repository.rules(s), key=lambda r: (r.need, r.priority, r.id))
        versions = repository.rule_versions(s)[:10]
    return render_template("referral/rules.html", rules=table, versions=versions,
                           today=deps().clock().date(),
                           results=results, errors=errors, form=form, needs=NEEDS,
                           statuses=RESIDENCE_STATUSES, districts=DISTRICTS,
                           purposes=RESIDENCE_PURPOSES)


@bp.route("/routing-rules/<rule_id>/edit", methods=["GET", "POST"])
@bp.route("/routing-rules/new", methods=["GET", "POST"], defaults={"rule_id": None})
@ui_roles("admin")
def edit_rule(rule_id):
    """Admins change or add a rule; every save is a new version of the table."""
    with deps().session_factory() as s:
        current = next((r for r in repository.rules(s) if r.id == rule_id), None)
        partners = [p.code for p in repository.partners(s)]
    if rule_id and current is None:
        abort(404)
    offered = {code: p.services for code, p in DIRECTORY.items()}  # by the partner directory
    errors: dict = {}
    if request.method == "POST":
        f = request.form
        raw = {k: (f.get(k) or None) for k in ("id", "need", "partner", "service", "priority",
                                              "min_age", "max_age", "valid_from", "valid_to",
                                              "citation", "requires_need", "note",
                                              "first_issued_from", "first_issued_until",
                                              "nationality_group", "child_under",
                                              "pension_age", "arrived_within_months")}
        raw["residence_statuses"] = f.getlist("residence_statuses") or None
        raw["languages"] = _codes(f.get("languages")) or None
        raw["districts"] = f.getlist("districts") or None
        raw["purposes"] = f.getlist("purposes") or None
        if rule_id:
            raw.pop("id")
        try:
            data = RoutingRuleInSchema().load({k: v for k, v in raw.items() if v is not None})
            d = deps()
            if f.get("action") == "replay":  # show what would change; save nothing
                replayed = rules.replay(d.session_factory, rules.replayed_rule(data, rule_id),
                                        d.clock().date())
                return _rule_form(current, errors, partners, offered, replayed)
            rules.save_rule(rules.rule_from(data, rule_id), current_principal().username,
                            data.get("note"), d.uow(), d.clock, create=rule_id is None)
            flash(_("Rule saved; the routing table has a new version."))
            return redirect(url_for(".routing_rules"))
        except ValidationError as exc:
            errors = wording.form_errors(exc.messages)
        except rules.RuleError as exc:
            errors = {exc.field: [wording.form_message(exc.message)]}
    return _rule_form(current, errors, partners, offered)


def _rule_form(current, errors: dict, partners: list[str], offered: dict,
               replayed: dict | None = None):
    return render_template("referral/rule_edit.html", rule=current, errors=errors,
                           form=request.form, needs=NEEDS, statuses=RESIDENCE_STATUSES,
                           districts=DISTRICTS, purposes=RESIDENCE_PURPOSES,
                           partners=partners, services=offered,
                           offered_codes={s.code for p in partners for s in offered.get(p, ())},
                           replayed=replayed), 422 if errors else 200
