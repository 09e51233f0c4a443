"""JSON API of the partner adapter: signed partner callbacks and the list of partner cases."""
from __future__ import annotations

import logging

from flask import abort, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate

from services.partner_adapter import handlers, repository
from shared.auth import api_roles, current_principal
from shared.config import PARTNERS
from shared.events.contracts import PARTNER_REPORTED_STATUSES
from shared.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

log = logging.getLogger(__name__)
blp = Blueprint("partner_cases", __name__, url_prefix="/api/v1/partner-cases",
                description="Cases Lotse opened in partner systems")
callbacks = Blueprint("partner_callbacks", __name__, url_prefix="/api/v1/partner-callbacks",
                      description="Status reports from partner systems (HMAC-signed)")


def deps():
    return current_app.extensions["lotse"]


class PartnerReportSchema(Schema):
    class Meta:
        unknown = RAISE

    event_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    case_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    client_reference = fields.String(load_default=None)
    status = fields.String(required=True, validate=validate.OneOf(PARTNER_REPORTED_STATUSES))
    reason = fields.String(load_default=None, allow_none=True)
    occurred_at = fields.AwareDateTime(required=True)
    outcome = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=40))


class CallbackResultSchema(Schema):
    result = fields.String()


class PartnerCaseOutSchema(Schema):
    id = fields.UUID()
    referral_id = fields.UUID()
    partner = fields.String()
    service = fields.String()
    status = fields.String(metadata={"description": "pending | opened | failed"})
    partner_case_ref = fields.String(allow_none=True)
    partner_status = fields.String(allow_none=True)
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class PartnerCaseListSchema(Schema):
    items = fields.List(fields.Nested(PartnerCaseOutSchema))


@blp.route("")
class PartnerCases(MethodView):
    @api_roles("partner", "operator", "staff")
    @blp.response(200, PartnerCaseListSchema)
    def get(self):
        """Partner cases, newest first; partner users see only their own."""
        principal = current_principal()
        with deps().session_factory() as s:
            cases = repository.listing(s, principal.partner if principal.role == "partner"
                                       else request.args.get("partner"))
        return {"items": cases}


@callbacks.route("/<partner>")
class PartnerCallback(MethodView):
    @callbacks.response(200, CallbackResultSchema)
    @callbacks.alt_response(401, description="Missing, stale or wrong signature")
    @callbacks.alt_response(409, description="The same signed request again (replay), or an "
                                             "answer the referral lifecycle refuses after the "
                                             "case's last answer (the message says why)")
    @callbacks.alt_response(404, description="No case with this reference (yet): retry later")
    def post(self, partner):
        """A partner reports the status of one of its cases. Authenticated by an HMAC-SHA512
        signature over `<Callback-Timestamp>.<body>` (FIT-Connect style) with this partner's
        own callback secret, not by a user session."""
        if partner not in PARTNERS:
            abort(404, "unknown partner")
        body = request.get_data()
        # the secret of the partner in the URL only (its current one, or the previous one
        # while it is rotated); cases of other partners are not found under this partner
        if not any(verify(secret, body, request.headers.get(TIMESTAMP_HEADER),
                          request.headers.get(SIGNATURE_HEADER))
                   for secret in deps().settings.callback_secrets.get(partner, ())):
            log.warning("partner callback with a missing, stale or wrong signature refused",
                        extra={"partner": partner})
            abort(401, "callback signature missing, stale or wrong")
        try:
            report = PartnerReportSchema().load(request.get_json(force=True, silent=True) or {})
        except ValidationError as exc:
            abort(422, str(exc.messages))
        try:
            result = handlers.record_partner_report(partner, report, deps().uow(),
                                                    request.headers[SIGNATURE_HEADER])
        except handlers.AnswerRefused as exc:  # told, not recorded: the partner must know
            abort(409, f"answer refused: {exc}")
        if result == "replayed":
            log.warning("replayed partner callback refused",
                        extra={"partner": partner, "event_id": report["event_id"]})
            abort(409, "this signed callback was already received (replay)")
        if result == "unknown_case":
            abort(404, "no case with this reference yet")
        return {"result": result}
