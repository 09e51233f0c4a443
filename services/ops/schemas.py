"""Wire shapes of the console's API (documented in its OpenAPI document)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.ops.dead_letters import LARGEST_ID
from shared.bus.causes import ParkCause


class EventQuerySchema(Schema):
    type = fields.String(load_default=None, metadata={"description": "event type; * wildcards"})
    service = fields.String(load_default=None, metadata={"description": "producing service"})
    partner = fields.String(load_default=None)
    correlation_id = fields.String(load_default=None)
    after = fields.Integer(load_default=None, validate=validate.Range(min=0, max=LARGEST_ID),
                           metadata={"description": "only events after this seq, oldest first"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class JournalEventSchema(Schema):
    seq = fields.Integer()
    event_id = fields.String()
    type = fields.String()
    schemaversion = fields.Integer()
    service = fields.String()
    subject = fields.String()
    correlation_id = fields.String()
    causation_id = fields.String(allow_none=True)
    intake_id = fields.String(allow_none=True)
    referral_id = fields.String(allow_none=True)
    partner = fields.String(allow_none=True)
    status = fields.String(allow_none=True)
    occurred_at = fields.String()
    recorded_at = fields.String()
    data = fields.Dict(metadata={"description": "the payload, personal data masked"})


class EventListSchema(Schema):
    items = fields.List(fields.Nested(JournalEventSchema))
    last_seq = fields.Integer()


class TraceSchema(Schema):
    query = fields.String()
    duration_ms = fields.Float()
    events = fields.List(fields.Dict(), metadata={
        "description": "causal order; at_ms, after_cause_ms, to_bus_ms, handled_by[]"})
    referrals = fields.Dict(metadata={"description": "current state per referral id"})


class DeadLetterQuerySchema(Schema):
    queue = fields.String(load_default=None)
    service = fields.String(load_default=None)
    event_type = fields.String(load_default=None)
    cause = fields.String(load_default=None, validate=validate.OneOf([c.value for c in ParkCause]),
                          metadata={"description": "why it was parked"})
    reason = fields.String(load_default=None, metadata={"description": "text in the reason"})
    status = fields.String(load_default="parked",
                           validate=validate.OneOf(("parked", "replayed", "discarded")))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class DeadLetterSchema(Schema):
    id = fields.Integer()
    queue = fields.String()
    service = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    cause = fields.String(metadata={"description": "why it was parked: " + ", ".join(ParkCause)})
    reason = fields.String(metadata={"description": "the technical detail"})
    attempts = fields.Integer()
    times_parked = fields.Integer()
    status = fields.String()
    parked_at = fields.String()
    settled_at = fields.String(allow_none=True)
    settled_by = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    payload = fields.Raw(metadata={"description": "masked unless the viewer is an admin"})
    payload_masked = fields.Boolean()


class DeadLetterListSchema(Schema):
    items = fields.List(fields.Nested(DeadLetterSchema))
    counts = fields.Dict(metadata={"description": "per queue and status"})


class DiscardSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                         metadata={"description": "why the message is discarded"})


class SelectionSchema(Schema):
    """Which parked messages to replay: ids, or a filter; `all: true` for every one."""

    ids = fields.List(fields.Integer(validate=validate.Range(min=0, max=LARGEST_ID)),
                      load_default=None)
    queue = fields.String(load_default=None)
    service = fields.String(load_default=None)
    event_type = fields.String(load_default=None)
    cause = fields.String(load_default=None, validate=validate.OneOf([c.value for c in ParkCause]))
    reason = fields.String(load_default=None)
    all = fields.Boolean(load_default=False)


class SettledSchema(Schema):
    id = fields.Integer()
    status = fields.String()


class BatchSchema(Schema):
    id = fields.String()
    status = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    failed = fields.Integer()
    progress = fields.Float()
    requested_by = fields.String()
    selection = fields.Dict()
    created_at = fields.String()
    finished_at = fields.String(allow_none=True)


class OverviewSchema(Schema):
    mode = fields.String()
    topology = fields.Dict()
    backlogs = fields.Dict()
    alerts = fields.List(fields.Dict())


class ChartQuerySchema(Schema):
    window = fields.String(load_default="hour", validate=validate.OneOf(("hour", "day")))


class ChartSchema(Schema):
    window = fields.String()
    bucket_seconds = fields.Integer()
    since = fields.String()
    series = fields.Dict()


class AuditSchema(Schema):
    items = fields.List(fields.Dict())
