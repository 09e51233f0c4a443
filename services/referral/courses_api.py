"""JSON API of the course directory (/api/v1/courses) and the directory's Open Referral
export (/api/v1/directory/hsds).

Staff and partners read the directory; a course provider's partner users keep its courses,
admins any provider's (another provider's course: 403). Staff match courses to a person and
ask for a place: a referral to the provider, consent checked (courses_store.request_place).
"""
from __future__ import annotations

from flask import abort, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from services.referral import courses_store as store
from services.referral import courses_wording, handlers, hsds, repository
from services.referral.courses import (CourseError, CourseKind, CourseStatus, Funding, Level,
                                       filter_courses, match_courses)
from services.referral.schemas import ReferralOutSchema
from shared.auth import api_roles, current_principal
from shared.reference import DISTRICTS, RESIDENCE_STATUSES, codes
from shared.web import FieldError

blp = Blueprint("courses", __name__, url_prefix="/api/v1/courses",
                description="Language courses of the providers, matching, place requests")
directory_blp = Blueprint("directory", __name__, url_prefix="/api/v1/directory",
                          description="The partners' services and courses as Open Referral "
                                      "HSDS 3.0")


def deps():
    return current_app.extensions["lotse"]


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


def _one_of(values) -> validate.OneOf:
    return validate.OneOf([str(v) for v in values])


class CourseInSchema(StrictSchema):
    """A course as a provider keeps it (all fields; for a change, the ones changing)."""

    provider = fields.String(validate=_one_of(sorted(store.course_providers())), metadata={
        "description": "the provider's partner code; a partner user's own by default"})
    kind = fields.String(required=True, validate=_one_of(CourseKind))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    level = fields.String(required=True, validate=_one_of(Level))
    schedule = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "days and times, e.g. Mo–Fr 08:30–11:45"})
    district = fields.String(required=True, validate=_one_of(codes(DISTRICTS)))
    childcare = fields.Boolean(required=True)
    funding = fields.String(required=True, validate=_one_of(Funding))
    starts_on = fields.Date(required=True)
    places = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    free_places = fields.Integer(required=True, validate=validate.Range(min=0, max=500))
    address = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=200))


class CourseImportSchema(CourseInSchema):
    """An entry of an import file: a provider named; an id keeps the course's identity when
    the same file is imported again."""

    id = fields.UUID()
    provider = fields.String(required=True, validate=_one_of(sorted(store.course_providers())))


class CourseOutSchema(StrictSchema):
    id = fields.String()
    provider = fields.String()
    kind = fields.String()
    title = fields.String()
    level = fields.String()
    schedule = fields.String()
    district = fields.String()
    childcare = fields.Boolean()
    funding = fields.String()
    starts_on = fields.Date()
    places = fields.Integer()
    free_places = fields.Integer()
    status = fields.String()
    address = fields.String(allow_none=True)
    updated_at = fields.AwareDateTime()
    # not who changed it last: a provider's employee's account name is not for every reader


class CourseListSchema(StrictSchema):
    items = fields.List(fields.Nested(CourseOutSchema))


class CourseQuerySchema(StrictSchema):
    level = fields.String(validate=_one_of(Level))
    kind = fields.String(validate=_one_of(CourseKind))
    district = fields.String(validate=_one_of(codes(DISTRICTS)))
    childcare = fields.Boolean()
    funding = fields.String(validate=_one_of(Funding))
    starts_from = fields.Date()
    with_free_places = fields.Boolean(load_default=False)
    provider = fields.String()
    include_closed = fields.Boolean(load_default=False)


class MatchQuerySchema(StrictSchema):
    level = fields.String(validate=_one_of(Level), load_default=None)
    residence_status = fields.String(validate=_one_of(codes(RESIDENCE_STATUSES)),
                                     load_default=None)
    district = fields.String(validate=_one_of(codes(DISTRICTS)), load_default=None)
    childcare = fields.Boolean(load_default=False)


class MatchOutSchema(StrictSchema):
    course = fields.Nested(CourseOutSchema)
    eligibility = fields.String(metadata={"description": "entitled, on_request, self_pay"})
    reasons = fields.List(fields.String(), metadata={"description": "codes (courses.Why)"})
    why = fields.List(fields.String(), metadata={"description": "the reasons in words"})


class MatchListSchema(StrictSchema):
    items = fields.List(fields.Nested(MatchOutSchema))


class PlaceRequestInSchema(StrictSchema):
    intake_id = fields.UUID(required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class CourseChangeSchema(CourseInSchema):
    """The fields changing; `status: closed` closes the course."""

    status = fields.String(validate=_one_of(CourseStatus))

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise ValidationError("name at least one field to change", "_schema")


def match_body(match) -> dict:
    return {"course": match.course, "eligibility": match.eligibility.name.lower(),
            "reasons": [str(r) for r in match.reasons],
            "why": [courses_wording.why(r, match.course) for r in match.reasons]}


@blp.route("")
class Courses(MethodView):
    @api_roles("staff", "partner")
    @blp.arguments(CourseQuerySchema, location="query")
    @blp.response(200, CourseListSchema)
    def get(self, query):
        """The directory's courses, earliest start first: open ones unless `include_closed`;
        filter by level, kind, district, childcare, funding, start, free places, provider."""
        provider = query.pop("provider", None)
        with deps().session_factory() as s:
            found = store.all_courses(s, provider)
        return {"items": filter_courses(found, **query)}

    @api_roles("partner")
    @blp.arguments(CourseInSchema)
    @blp.response(201, CourseOutSchema)
    @blp.alt_response(422, description="Invalid input; `errors.json` names each field")
    def post(self, data):
        """Add a course: a course provider's partner user for its own provider (the default),
        an admin for the provider it names."""
        principal = current_principal()
        provider = data.pop("provider", None) or principal.partner
        if provider is None:
            raise FieldError("provider", "name the course's provider")
        if not store.may_keep(principal.role, principal.partner, provider):
            abort(403, "you may keep only your own provider's courses")
        d = deps()
        try:
            course = store.new_course({**data, "provider": provider}, principal.username,
                                      d.clock())
        except CourseError as exc:
            raise FieldError(exc.field, exc.message) from None
        return store.add(d.uow(), course)


@blp.route("/<uuid:course_id>")
class CourseById(MethodView):
    @api_roles("staff", "partner")
    @blp.response(200, CourseOutSchema)
    def get(self, course_id):
        """One course."""
        with deps().session_factory() as s:
            course = store.get(s, str(course_id))
        if course is None:
            abort(404, "no course with this id")
        return course

    @api_roles("partner")
    @blp.arguments(CourseChangeSchema(partial=True))
    @blp.response(200, CourseOutSchema)
    @blp.alt_response(422, description="Invalid input; `errors.json` names each field")
    def patch(self, data, course_id):
        """Change a course (e.g. its free places), or close it with `status: closed`: its
        provider's partner users and admins (another provider's course: 403)."""
        return change(str(course_id), data)


@blp.route("/<uuid:course_id>/close")
class CloseCourse(MethodView):
    @api_roles("partner")
    @blp.response(200, CourseOutSchema)
    def post(self, course_id):
        """Close a course: no longer offered, no more place requests."""
        return change(str(course_id), {"status": CourseStatus.CLOSED})


def change(course_id: str, changes: dict):
    principal, d = current_principal(), deps()
    try:
        return store.change(d.uow(), course_id, changes, principal.role, principal.partner,
                            principal.username, d.clock())
    except store.CourseNotFound:
        abort(404, "no course with this id")
    except store.NotYourCourse:
        abort(403, "you may keep only your own provider's courses")
    except CourseError as exc:
        raise FieldError(exc.field, exc.message) from None


@blp.route("/matches")
class Matches(MethodView):
    @api_roles("staff")
    @blp.arguments(MatchQuerySchema, location="query")
    @blp.response(200, MatchListSchema)
    def get(self, query):
        """The courses that fit a person, best first, each with why: how they may join by
        their residence status (by right, on request, as a self-payer), the level, district
        and childcare."""
        d = deps()
        with d.session_factory() as s:
            found = store.all_courses(s)
        matches = match_courses(found, query["level"], query["residence_status"],
                                query["district"], query["childcare"], d.clock().date())
        return {"items": [match_body(m) for m in matches]}


@blp.route("/<uuid:course_id>/place-requests")
class PlaceRequests(MethodView):
    @api_roles("staff")
    @blp.arguments(PlaceRequestInSchema)
    @blp.response(201, ReferralOutSchema)
    @blp.alt_response(409, description="No consent in force allows sharing with the "
                                       "provider, or the course takes no one now")
    def post(self, data, course_id):
        """Ask the course's provider for a place for the intake's person: a referral for the
        language-course need carrying the course id, if a consent in force now allows sharing
        with the provider (409 otherwise, in words)."""
        d = deps()
        try:
            referral_id = store.request_place(d.uow, d.session_factory, str(course_id),
                                              str(data["intake_id"]),
                                              current_principal().username, data["note"])
        except store.CourseNotFound:
            abort(404, "no course with this id")
        except handlers.ReferralActionError as exc:
            if exc.field == "intake_id":
                raise FieldError(exc.field, exc.message) from None
            abort(409, exc.message)
        with d.session_factory() as s:
            return repository.get(s, referral_id)


class HsdsExportSchema(StrictSchema):
    """Open Referral HSDS 3.0 objects, each valid against the schema of its table."""

    version = fields.String()
    organizations = fields.List(fields.Dict())
    services = fields.List(fields.Dict(), metadata={
        "description": "the partners' services and the courses, with schedules and "
                       "service_at_locations"})
    locations = fields.List(fields.Dict(), metadata={"description": "with addresses"})


@directory_blp.route("/hsds")
class HsdsExport(MethodView):
    @api_roles("staff", "partner", "operator", "management")
    @directory_blp.response(200, HsdsExportSchema)
    def get(self):
        """The directory of the partners' services and the open courses in Open Referral
        HSDS 3.0 shape: organizations, services (with schedules and service_at_locations),
        locations (with addresses)."""
        with deps().session_factory() as s:
            found = store.all_courses(s)
        return hsds.export(found)
