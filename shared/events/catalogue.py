"""The event catalogue (docs/events.md), generated from the contracts so it cannot drift."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from shared.bus.topology import Topology
from shared.events.contracts import CATALOGUE
from shared.events.envelope import EnvelopeSchema

_TYPES = {fields.UUID: "uuid", fields.AwareDateTime: "date-time (RFC 3339, with offset)",
          fields.Date: "date (ISO 8601)", fields.Integer: "integer", fields.Boolean: "boolean",
          fields.String: "string", fields.Dict: "object", fields.List: "array"}


def _type(field: fields.Field[Any]) -> str:
    if isinstance(field, fields.Nested):
        return "object (see below)"
    if isinstance(field, fields.List):
        return f"array of {_type(field.inner)}"
    for cls, name in _TYPES.items():
        if isinstance(field, cls):
            return name
    return type(field).__name__


def _rows(schema: Schema, prefix: str = "") -> list[str]:
    rows = []
    for name, field in schema.fields.items():
        choices = getattr(field.validate, "choices", None) if field.validate else None
        note = ("one of " + ", ".join(f"`{c}`" for c in choices)) if choices else ""
        if field.metadata.get("description"):
            note = "; ".join(filter(None, (note, field.metadata["description"])))
        rows.append(f"| `{prefix}{name}` | {_type(field)} | {'yes' if field.required else 'no'}"
                    f" | {'yes' if field.allow_none else 'no'} | {note} |")
        if isinstance(field, fields.Nested):
            rows += _rows(field.schema, f"{prefix}{name}.")
    return rows


def render(topology: Topology) -> str:
    out = [
        "# Lotse event catalogue",
        "",
        "Generated from `shared/events/contracts.py` by `lotse catalogue`; do not edit by hand.",
        "",
        "Every event is a CloudEvents 1.0 event in structured JSON mode",
        "(`content-type: application/cloudevents+json`), published persistently to the topic",
        f"exchange `{topology.exchange}` with the event type as routing key. The AMQP",
        "`message_id` is the event `id`, the consumers' deduplication key. Unknown envelope",
        "attributes and unknown payload fields are refused (the message is parked). The",
        "producer checks the whole contract when it stages an event; a consumer checks the",
        "envelope, that the contract is known, the payload's field names and each value's",
        "type (a message failing any of these is parked).",
        "",
        "## Envelope",
        "",
        "| attribute | type | required | nullable | notes |",
        "|---|---|---|---|---|",
        *_rows(EnvelopeSchema()),
        "",
        "`correlationid` follows one intake through every service; `causationid` is the id of",
        "the event that caused this one. `schemaversion` selects the payload contract below:",
        "optional fields may be added within a version, anything else needs a new version.",
        "",
    ]
    for entry in CATALOGUE:
        queues = [topology.queue(s) for s in topology.subscriptions
                  if entry.event_type in s.event_types]
        out += [
            f"## `{entry.event_type}` v{entry.version}",
            "",
            (entry.schema.__doc__ or "").strip(),
            "",
            f"- producer: `{entry.producer}` (source `/lotse/{entry.producer}`)",
            f"- consumers: {', '.join(f'`{c}`' for c in entry.consumers)}",
            f"- queues: {', '.join(f'`{q}`' for q in queues) or 'none'}",
            "",
            "| field | type | required | nullable | notes |",
            "|---|---|---|---|---|",
            *_rows(entry.schema()),
            "",
        ]
    return "\n".join(out)
