"""JSON API of the intake service (/api/v1): intakes and bearer tokens."""
from __future__ import annotations

import uuid

from flask import abort, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from services.intake import accounts, handlers, queries
from services.intake.domain import Consent, IntakeError, Person
from services.intake.schemas import (IntakeInSchema, IntakeOutSchema, IntakePageSchema,
                                     PageQuerySchema, TokenRequestSchema, TokenSchema)
from shared.auth import TOKEN_MAX_AGE, api_roles, current_principal, issue_token
from shared.web import FieldError

blp = Blueprint("intakes", __name__, url_prefix="/api/v1/intakes",
                description="Consultation intakes and their referrals")
auth_blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                     description="Bearer tokens for the API")


def deps():
    return current_app.extensions["lotse"]


def command_from(data: dict, staff: str) -> handlers.RecordIntake:
    p, c = data["person"], data["consent"]
    return handlers.RecordIntake(
        person=Person(p["given_name"].strip(), p["family_name"].strip(), p["birth_date"],
                      p["nationality"], tuple(p["languages"])),
        residence_status=data["residence_status"], site=data["site"], needs=tuple(data["needs"]),
        consent=Consent(c["share_with_partners"], c["method"], c["language"]), staff=staff)


def record(data: dict) -> uuid.UUID:
    """Shared by the API and the UI form: domain errors become field errors."""
    d = deps()
    try:
        return handlers.record_intake(command_from(data, current_principal().username),
                                      d.uow(), d.clock)
    except IntakeError as exc:
        raise FieldError(exc.field, exc.message) from None


@blp.route("")
class Intakes(MethodView):
    @api_roles("staff")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, IntakePageSchema)
    def get(self, query):
        """List intakes, newest first, with their referrals (paginated)."""
        return queries.intake_page(deps().session_factory, query["page"], query["per_page"])

    @api_roles("staff")
    @blp.arguments(IntakeInSchema)
    @blp.response(201, IntakeOutSchema)
    @blp.alt_response(422, description="Invalid input; `errors.json` names each field")
    def post(self, data):
        """Record the intake of a consultation; referrals to partners follow by event."""
        intake_id = record(data)
        body = queries.intake_detail(deps().session_factory, str(intake_id))
        return body, {"Location": url_for("intakes.IntakeById", intake_id=intake_id)}


@blp.route("/<uuid:intake_id>")
class IntakeById(MethodView):
    @api_roles("staff")
    @blp.response(200, IntakeOutSchema)
    def get(self, intake_id):
        """One intake with each referral's status and partner case reference."""
        body = queries.intake_detail(deps().session_factory, str(intake_id))
        if body is None:
            abort(404, "no intake with this id")
        return body


@auth_blp.route("/token")
class Token(MethodView):
    @auth_blp.arguments(TokenRequestSchema)
    @auth_blp.response(200, TokenSchema)
    @auth_blp.alt_response(401, description="Unknown user or wrong password")
    def post(self, data):
        """Exchange username and password for a bearer token."""
        with deps().session_factory() as session:
            principal = accounts.authenticate(session, data["username"], data["password"])
        if principal is None:
            abort(401, "unknown user or wrong password")
        return {"access_token": issue_token(current_app.secret_key, principal),
                "token_type": "Bearer", "expires_in": TOKEN_MAX_AGE}
