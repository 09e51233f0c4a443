"""HTTP contract of the referral API."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from shared.events.contracts import REFERRAL_STATUSES


class HistoryOutSchema(Schema):
    status = fields.String()
    previous_status = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    changed_by = fields.String()
    changed_at = fields.AwareDateTime()


class ReferralOutSchema(Schema):
    id = fields.UUID()
    intake_id = fields.UUID()
    intake_reference = fields.String()
    need = fields.String()
    partner = fields.String(allow_none=True)
    service = fields.String(allow_none=True)
    routing_reason = fields.String(metadata={"description": "why it went where it went"})
    status = fields.String(metadata={"description": "FHIR Task status code"})
    reason = fields.String(allow_none=True)
    partner_case_ref = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    history = fields.List(fields.Nested(HistoryOutSchema))


class ReferralListSchema(Schema):
    items = fields.List(fields.Nested(ReferralOutSchema))


class ReferralQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    intake_id = fields.UUID(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(REFERRAL_STATUSES))
    partner = fields.String(load_default=None)


class RoutingRuleOutSchema(Schema):
    id = fields.String()
    need = fields.String()
    partner = fields.String()
    service = fields.String()
    priority = fields.Integer()
    min_age = fields.Integer(allow_none=True)
    max_age = fields.Integer(allow_none=True, metadata={"description": "exclusive"})
    residence_statuses = fields.List(fields.String(), allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_to = fields.Date(allow_none=True)
    citation = fields.String()


class RoutingRuleListSchema(Schema):
    items = fields.List(fields.Nested(RoutingRuleOutSchema))
