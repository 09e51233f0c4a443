"""The CloudEvents 1.0 envelope every Lotse event travels in (structured JSON mode)."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from marshmallow import RAISE, Schema, fields, validate

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
    # its payload read as a typed event, kept by shared.events.model.typed: a delivery reads
    # it once to check the values, the handler gets the same object
    _event: Any = field(default=None, init=False, repr=False, compare=False)

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


_TYPE = re.compile(r"^[a-z_]+\.[a-z_]+$")
# the envelope's required text attributes and their longest length (EnvelopeSchema states the
# same rules, for the catalogue)
_TEXT = {"id": 64, "source": 200, "type": None, "subject": None, "correlationid": 64}
_ATTRIBUTES = frozenset(EnvelopeSchema().fields)


def parse_envelope(body: bytes | str) -> Envelope:
    """Decode an envelope and check its attributes, that its contract is known and that its
    payload's fields are the contract's, or raise InvalidEvent naming what is wrong.

    The payload's values are checked against the whole contract once, where the event is
    made (new_envelope); a consumer reads them as typed events (shared/events/typed.py),
    which refuse a value of another type. Checking every contract again in every consumer
    cost more CPU per message than the handlers' own work (docs/architecture.md §5).
    """
    from shared.events.contracts import check_field_names

    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"body is not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InvalidEvent("body is not a JSON object")
    errors = _envelope_errors(raw)
    if errors:
        raise InvalidEvent("invalid envelope", errors)
    check_field_names(raw["type"], raw["schemaversion"], raw["data"])
    return Envelope(type=raw["type"], source=raw["source"], subject=raw["subject"],
                    data=raw["data"], schemaversion=raw["schemaversion"], id=raw["id"],
                    time=raw["time"], correlationid=raw["correlationid"],
                    causationid=raw.get("causationid"))


def _envelope_errors(raw: dict[str, Any]) -> dict[str, list[str]]:
    """The envelope's attributes as EnvelopeSchema states them, checked by hand (a
    marshmallow load of it cost twice the rest of a delivery's decoding); `time` is
    replaced by its datetime."""
    errors: dict[str, list[str]] = {}
    for name in raw.keys() - _ATTRIBUTES:
        errors[name] = ["Unknown field."]
    for name, longest in _TEXT.items():
        value = raw.get(name)
        if not isinstance(value, str):
            errors[name] = ["Missing data for required field." if value is None
                            else "Not a valid string."]
        elif longest and not 1 <= len(value) <= longest:
            errors[name] = [f"Length must be between 1 and {longest}."]
    if raw.get("specversion") != "1.0":
        errors["specversion"] = ["Must be equal to 1.0."]
    if "type" not in errors and not _TYPE.match(raw["type"]):
        errors["type"] = ["String does not match expected pattern."]
    version = raw.get("schemaversion")
    if type(version) is not int or version < 1:
        errors["schemaversion"] = ["Must be an integer of at least 1."]
    if raw.setdefault("datacontenttype", "application/json") != "application/json":
        errors["datacontenttype"] = ["Must be equal to application/json."]
    causation = raw.get("causationid")
    if causation is not None and not isinstance(causation, str):
        errors["causationid"] = ["Not a valid string."]
    if not isinstance(raw.get("data"), dict):
        errors["data"] = ["Not a valid mapping type."]
    try:
        time = datetime.fromisoformat(raw["time"])
        if time.tzinfo is None:
            errors["time"] = ["Not a valid aware datetime."]
        raw["time"] = time
    except KeyError:
        errors["time"] = ["Missing data for required field."]
    except (TypeError, ValueError):
        errors["time"] = ["Not a valid datetime."]
    return errors


def new_envelope(event_type: str, version: int, producer: str, subject: str,
                 data: dict[str, Any], correlation_id: str | None = None,
                 causation_id: str | None = None) -> Envelope:
    """Build an envelope whose payload has been checked against its contract."""
    from shared.events.contracts import dump_payload

    event_id = str(uuid.uuid4())
    return Envelope(type=event_type, schemaversion=version, source=SOURCE_PREFIX + producer,
                    subject=subject, data=dump_payload(event_type, version, data), id=event_id,
                    correlationid=correlation_id or event_id, causationid=causation_id)
