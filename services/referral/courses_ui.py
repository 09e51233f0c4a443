"""Pages of the course directory: the staff course finder (filters, matches for a person,
"ask for a place") and the provider portal where a course provider's partner users keep
their courses (list, add, change, free places, close). German by default, errors at their
field."""
from __future__ import annotations

import uuid

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import select

from services.referral import courses_store as store
from services.referral import courses_wording as w
from services.referral import handlers
from services.referral import tables as t
from services.referral.courses import (CourseError, CourseStatus, filter_courses,
                                       match_courses)
from services.referral.courses_api import (CourseChangeSchema, CourseInSchema,
                                           CourseQuerySchema, MatchQuerySchema)
from shared.auth import current_principal, ui_roles
from shared.reference import DISTRICTS, RESIDENCE_STATUSES

bp = Blueprint("courses_ui", __name__, template_folder="templates")
FIELDS = ("kind", "title", "level", "schedule", "district", "funding", "starts_on", "places",
          "free_places", "address")


def deps():
    return current_app.extensions["lotse"]


@bp.context_processor
def _words():
    return {"kinds": w.KINDS, "fundings": w.FUNDINGS, "levels": w.LEVELS,
            "districts": DISTRICTS, "statuses": RESIDENCE_STATUSES, "cw": w,
            "district_name": {d.code: d for d in DISTRICTS}}


def _args(schema, names) -> tuple[dict, dict]:
    """The query's filled-in fields loaded by the API's schema; errors by field in words."""
    raw = {k: request.args[k] for k in names if request.args.get(k)}
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        return {}, w.field_errors(exc.messages)


@bp.get("/courses")
@ui_roles("staff")
def finder():
    """The course finder: the directory filtered, or the courses matching a person."""
    return _finder()


def _finder(place_errors: dict | None = None, status: int = 200):
    query, errors = _args(CourseQuerySchema(), ("level", "kind", "district", "childcare",
                                                "funding", "with_free_places"))
    matching = request.args.get("match") == "1"
    d = deps()
    with d.session_factory() as s:
        found = store.all_courses(s)
    matches, courses = None, []
    if matching:
        wanted, match_errors = _args(MatchQuerySchema(), ("level", "residence_status",
                                                          "district", "childcare"))
        errors.update(match_errors)
        if not match_errors:
            matches = match_courses(found, wanted["level"], wanted["residence_status"],
                                    wanted["district"], wanted["childcare"], d.clock().date())
    elif not errors:
        courses = filter_courses(found, **query)
    return render_template("referral/courses.html", courses=courses, matches=matches,
                           errors=errors, args=request.args, matching=matching,
                           place_errors=place_errors or {}, form=request.form), status


def _intake_id(reference: str) -> str:
    """The intake an intake reference (or id) names, as the referral service knows it."""
    reference = reference.strip()
    if not reference:
        raise handlers.ReferralActionError("intake", "name the intake's reference or id")
    try:
        return str(uuid.UUID(reference))
    except ValueError:
        pass
    with deps().session_factory() as s:
        found = s.execute(select(t.referrals.c.intake_id).where(
            t.referrals.c.intake_reference == reference.upper()).limit(1)).scalar()
    if found is None:
        raise handlers.ReferralActionError("intake", "no intake with this reference")
    return found


@bp.post("/courses/<uuid:course_id>/place-request")
@ui_roles("staff")
def place_request(course_id):
    """Ask the provider for a place for an intake's person (a referral, consent checked)."""
    d = deps()
    try:
        intake_id = _intake_id(request.form.get("intake", ""))
        referral_id = store.request_place(d.uow, d.session_factory, str(course_id), intake_id,
                                          current_principal().username,
                                          (request.form.get("note") or "").strip() or None)
    except store.CourseNotFound:
        abort(404)
    except handlers.ReferralActionError as exc:
        field = "intake" if exc.field in ("intake", "intake_id") else "course"
        problem = w.problem(exc.message)
        # at the course's row, and above: the row may not be on the page (a full course)
        flash(_("The place could not be asked for: %(problem)s", problem=problem))
        return _finder({str(course_id): {field: problem}}, 422)
    flash(_("A place was asked for: the referral goes to the provider."))
    return redirect(url_for("referral_ui.referral_detail", referral_id=referral_id))


def _provider_of(principal) -> str | None:
    """The provider whose courses this user keeps (None: an admin, all of them)."""
    if principal.role == "admin":
        return None
    return principal.partner


@bp.get("/partner/courses")
@ui_roles("partner")
def portal():
    """A course provider's courses, with a form to add one; other partners see that they
    keep no courses here."""
    return _portal({}, {})


def _portal(errors: dict, form, status: int = 200):
    principal = current_principal()
    provider = _provider_of(principal)
    providers = store.course_providers()
    keeps = principal.role == "admin" or provider in providers
    courses, requests = [], []
    if keeps:
        with deps().session_factory() as s:
            courses = filter_courses(store.all_courses(s, provider), include_closed=True)
            requests = store.place_requests(s, [c.id for c in courses])
    requested: dict[str, int] = {}
    for request_ in requests:
        requested[request_.course_id] = requested.get(request_.course_id, 0) + 1
    return render_template("referral/course_portal.html", courses=courses, keeps=keeps,
                           errors=errors, form=form, requested=requested,
                           requests=requests, titles={c.id: c.title for c in courses},
                           providers=sorted(providers), is_admin=principal.role == "admin"
                           ), status


def _course_form(form) -> dict:
    raw = {k: form.get(k, "").strip() for k in FIELDS if form.get(k, "").strip()}
    raw["childcare"] = form.get("childcare") == "yes"
    if form.get("provider"):
        raw["provider"] = form["provider"]
    return raw


def _course_errors(exc: Exception) -> dict:
    if isinstance(exc, ValidationError):
        return w.field_errors(exc.messages)
    assert isinstance(exc, CourseError)
    return {exc.field: [w.problem(exc.message)]}


@bp.post("/partner/courses")
@ui_roles("partner")
def add_course():
    principal, d = current_principal(), deps()
    try:
        data = CourseInSchema().load(_course_form(request.form))
        provider = data.pop("provider", None) or principal.partner
        if provider is None:
            raise CourseError("provider", "a course needs a provider")
        if not store.may_keep(principal.role, principal.partner, provider):
            abort(403)
        store.add(d.uow(), store.new_course({**data, "provider": provider},
                                            principal.username, d.clock()))
    except (ValidationError, CourseError) as exc:
        return _portal(_course_errors(exc), request.form, 422)
    flash(_("Course added."))
    return redirect(url_for(".portal"))


@bp.route("/partner/courses/<uuid:course_id>/edit", methods=["GET", "POST"])
@ui_roles("partner")
def edit_course(course_id):
    principal, d = current_principal(), deps()
    with d.session_factory() as s:
        course = store.get(s, str(course_id))
    if course is None:
        abort(404)
    if not store.may_keep(principal.role, principal.partner, course.provider):
        abort(403)
    errors: dict = {}
    if request.method == "POST":
        try:
            changes = CourseChangeSchema().load(
                {k: v for k, v in _course_form(request.form).items() if k != "provider"})
            store.change(d.uow(), str(course_id), changes, principal.role, principal.partner,
                         principal.username, d.clock())
            flash(_("Course saved."))
            return redirect(url_for(".portal"))
        except (ValidationError, CourseError) as exc:
            errors = _course_errors(exc)
    return render_template("referral/course_edit.html", course=course, errors=errors,
                           form=request.form), 422 if errors else 200


@bp.post("/partner/courses/<uuid:course_id>/close")
@ui_roles("partner")
def close_course(course_id):
    principal, d = current_principal(), deps()
    try:
        store.change(d.uow(), str(course_id), {"status": CourseStatus.CLOSED}, principal.role,
                     principal.partner, principal.username, d.clock())
    except store.CourseNotFound:
        abort(404)
    except store.NotYourCourse:
        abort(403)
    flash(_("Course closed: it takes no more place requests."))
    return redirect(url_for(".portal"))

