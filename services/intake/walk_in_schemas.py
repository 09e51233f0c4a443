"""HTTP contract of the walk-in queue (/api/v1/queue): unknown fields refused, codes checked."""
from __future__ import annotations

from marshmallow import fields, validate

from services.intake.schemas import StrictSchema, _language, _one_of
from services.intake.walk_in import TOPICS, TicketStatus
from shared.reference import SITES


class DrawInSchema(StrictSchema):
    site = fields.String(required=True, validate=_one_of(SITES))
    language = fields.String(required=True, validate=[validate.Length(max=3), _language])
    topic = fields.String(required=True, validate=_one_of(TOPICS))


class SiteQuerySchema(StrictSchema):
    site = fields.String(required=True, validate=_one_of(SITES))


class CallNextInSchema(StrictSchema):
    site = fields.String(required=True, validate=_one_of(SITES))


class ServedInSchema(StrictSchema):
    intake_id = fields.UUID(load_default=None, allow_none=True)


class TicketOutSchema(StrictSchema):
    id = fields.String()
    number = fields.String()
    site = fields.String()
    language = fields.String()
    topic = fields.String()
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))
    drawn_at = fields.DateTime()
    called_at = fields.DateTime(allow_none=True)
    called_by = fields.String(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    waiting_minutes = fields.Integer()
    interpreter_needed = fields.Boolean()
    intake_id = fields.String(allow_none=True)


class QueueOutSchema(StrictSchema):
    site = fields.String()
    items = fields.List(fields.Nested(TicketOutSchema))
