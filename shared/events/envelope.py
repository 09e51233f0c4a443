"""The CloudEvents 1.0 envelope every Lotse event travels in (structured JSON mode)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.clock import utcnow

CONTENT_TYPE = "application/cloudevents+json"
SOURCE_PREFIX = "/lotse/"


class InvalidEvent(Exception):
    """A message that can never be processed: bad JSON, bad envelope or unknown contract."""

    def __init__(self, reason: str, errors: dict[str, Any] | list[Any] | None = None):
        detail = f": {json.dumps(errors, sort_keys=True)}" if errors else ""
        super().__init__(reason + detail)
        self.errors = errors or {}


@dataclass(frozen=True)
class Envelope:
    """One event: CloudEvents attributes plus correlation/causation ids and a versioned payload."""

    type: str
    source: str
    subject: str
    data: dict[str, Any]
    schemaversion: int = 1
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=utcnow)
    correlationid: str = ""
    causationid: str | None = None
    specversion: str = "1.0"
    datacontenttype: str = "application/json"

    def to_json(self) -> str:
        return json.dumps(_ENVELOPE.dump(self), ensure_ascii=False, separators=(",", ":"))

    @property
    def routing_key(self) -> str:
        return self.type


class EnvelopeSchema(Schema):
    """Wire shape of the envelope; unknown attributes are refused."""

    class Meta:
        unknown = RAISE

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    source = fields.String(required=True, validate=validate.Length(min=1, max=200))
    type = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+\.[a-z_]+$"))
    time = fields.AwareDateTime(required=True, format="iso")
    subject = fields.String(required=True)
    datacontenttype = fields.String(load_default="application/json",
                                    validate=validate.Equal("application/json"))
    schemaversion = fields.Integer(required=True, validate=validate.Range(min=1))
    correlationid = fields.String(required=True, validate=validate.Length(min=1, max=64))
    causationid = fields.String(load_default=None, allow_none=True)
    data = fields.Dict(required=True)


_ENVELOPE = EnvelopeSchema()  # built once: a load or dump keeps no state in the schema


def parse_envelope(body: bytes | str) -> Envelope:
    """Decode and validate an envelope and its payload contract, or raise InvalidEvent."""
    from shared.events.contracts import validate_payload

    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidEvent("body is not a JSON object")
    try:
        attrs = _ENVELOPE.load(raw)
    except ValidationError as exc:
        raise InvalidEvent("invalid envelope", exc.messages) from None
    attrs["data"] = validate_payload(attrs["type"], attrs["schemaversion"], attrs["data"])
    return Envelope(**attrs)


def new_envelope(event_type: str, version: int, producer: str, subject: str,
                 data: dict[str, Any], correlation_id: str | None = None,
                 causation_id: str | None = None) -> Envelope:
    """Build an envelope whose payload has been checked against its contract."""
    from shared.events.contracts import dump_payload

    event_id = str(uuid.uuid4())
    return Envelope(type=event_type, schemaversion=version, source=SOURCE_PREFIX + producer,
                    subject=subject, data=dump_payload(event_type, version, data), id=event_id,
                    correlationid=correlation_id or event_id, causationid=causation_id)
