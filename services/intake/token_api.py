"""Logging out and revoking tokens (/api/v1/auth), and the revocation feed the other services
read with their service credential (/internal/v1/token-revocations)."""
from __future__ import annotations

import math
from datetime import datetime

from flask import Blueprint as FlaskBlueprint
from flask import abort, current_app, jsonify, make_response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.intake import accounts, token_revocations
from services.intake.login_throttle import DEFAULT_POLICY, ThrottlePolicy
from services.intake.schemas import StrictSchema
from shared.auth import ROLES, Principal, api_roles, current_credential, current_principal
from shared.client_address import client_address, trusted_networks

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/auth",
                description="Logging out (revoking your token) and revoking others' tokens")
internal_bp = FlaskBlueprint("internal_tokens", __name__, url_prefix="/internal/v1")


def deps():
    return current_app.extensions["lotse"]


class RevocationInSchema(StrictSchema):
    jti = fields.String(validate=validate.Length(min=1, max=64),
                        metadata={"description": "revoke this one token or session"})
    username = fields.String(validate=validate.Length(min=1, max=60),
                             metadata={"description": "revoke every token and session of this "
                                                      "user issued until now"})

    @validates_schema
    def one_of_them(self, data: dict, **_) -> None:
        if ("jti" in data) == ("username" in data):
            raise ValidationError("give either jti or username", "_schema")


class RevocationSchema(Schema):
    jti = fields.String(allow_none=True)
    username = fields.String(allow_none=True)
    revoked_at = fields.DateTime()
    expires_at = fields.DateTime()


@blp.route("/logout")
class Logout(MethodView):
    @api_roles(*ROLES)
    @blp.response(204)
    def post(self):
        """Revoke the token (or session) of this request: the intake process that records it
        refuses it at once, intake's other processes within a second, the other services
        within seconds."""
        end_credential()


class ThrottleSchema(Schema):
    username = fields.String()
    client = fields.String()
    failures = fields.Integer()
    last_failure_at = fields.DateTime()
    until = fields.DateTime(allow_none=True, metadata={"description": "null: not waiting now"})


class FailedLoginSchema(Schema):
    at = fields.DateTime()
    username = fields.String()
    client = fields.String()


class ThrottlingSchema(Schema):
    limits = fields.Dict()
    # "global": a Python keyword, so the field is named through data_key
    global_ = fields.Dict(data_key="global")
    throttles = fields.List(fields.Nested(ThrottleSchema))
    recent_failures = fields.List(fields.Nested(FailedLoginSchema))


@blp.route("/throttling")
class Throttling(MethodView):
    @api_roles("admin")
    @blp.response(200, ThrottlingSchema)
    def get(self):
        """Login throttling: the limits, failed logins in the global window, who waits
        (account name, client address, failures, until when) and the latest failed logins."""
        d = deps()
        with d.session_factory() as session:
            record = accounts.throttling_record(session, d.clock(), login_policy())
        record["global_"] = record.pop("global")
        return record


def login_policy() -> ThrottlePolicy:
    return current_app.config["LOTSE_LOGIN_THROTTLE"]


def password_login(username: str, password: str) -> Principal | None:
    """A password login of this request's client (both ways in: the token API and the login
    form); raises accounts.LoginThrottled."""
    d = deps()
    client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                            d.settings.trusted_proxies)
    with d.session_factory() as session:
        try:
            principal = accounts.authenticate(session, username, password, client, d.clock(),
                                              login_policy())
        finally:
            session.commit()  # the attempt counts whatever the answer
    return principal


def throttled_answer(exc: accounts.LoginThrottled):
    """429 with Retry-After, the same for every user name, known or not."""
    wait = retry_after(exc)
    response = make_response({"code": 429, "status": "Too Many Requests",
                              "message": "too many failed logins: try again in "
                                         f"{wait // 60 + 1} minutes"}, 429)
    response.headers["Retry-After"] = str(wait)
    return response


def retry_after(exc: accounts.LoginThrottled) -> int:
    return max(1, math.ceil((exc.until - deps().clock()).total_seconds()))


@blp.route("/revocations")
class Revocations(MethodView):
    @api_roles("admin")
    @blp.arguments(RevocationInSchema)
    @blp.response(201, RevocationSchema)
    def post(self, data):
        """Revoke one token by its id (jti), or every token and session of a user."""
        d, admin = deps(), current_principal().username
        ttl = current_app.config["LOTSE_TOKEN_TTL"]
        with d.session_factory() as session:
            if "jti" in data:
                revocation = token_revocations.revoke_jti(session, data["jti"], admin,
                                                          d.clock(), ttl)
            else:
                revocation = token_revocations.revoke_user(session, data["username"], admin,
                                                           d.clock(), ttl)
            session.commit()
        _in_force_here(revocation)
        return revocation


def end_credential() -> None:
    """Revoke the current request's token or session (API and UI logout)."""
    credential = current_credential()
    if credential is None:
        return
    d = deps()
    with d.session_factory() as session:
        revocation = token_revocations.revoke_credential(
            session, credential, credential.principal.username, d.clock())
        session.commit()
    _in_force_here(revocation)


def _in_force_here(revocation) -> None:
    """This process refuses a revocation it recorded at once; intake's other processes at
    their next refresh (token_revocations.OWN_REFRESH_SECONDS)."""
    current_app.extensions["lotse_revocations"].add(revocation, deps().clock())


@internal_bp.get("/token-revocations")
def revocation_feed():
    """Unexpired revocations newer than ?since= (ISO 8601), for the other services' copies;
    the service credential was checked before (shared/auth.py)."""
    since = request.args.get("since")
    try:
        since_at = datetime.fromisoformat(since) if since else None
    except ValueError:
        abort(400, "since must be an ISO 8601 time")
    if since_at is not None and since_at.tzinfo is None:
        abort(400, "since needs a time zone")
    with deps().session_factory() as session:
        items = token_revocations.unexpired_revocations(session, deps().clock(), since_at)
    return jsonify(items=[r.to_json() for r in items])


def register(app, revocations) -> None:
    """Add the token routes to the intake app, and intake's own copy of its revocations."""
    from shared.web import exempt_from_csrf

    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
    exempt_from_csrf(app, blp)  # shared/auth.py checks CSRF on cookie-authenticated writes
    app.register_blueprint(internal_bp)
    app.extensions["lotse_revocations"] = revocations
    app.config.setdefault("LOTSE_LOGIN_THROTTLE", DEFAULT_POLICY)  # tests set a smaller one
    trusted_networks(app.extensions["lotse"].settings.trusted_proxies)  # a typo fails here
