"""Envelope and contracts: CloudEvents attributes, versions, unknown fields refused."""
from __future__ import annotations

import json

import pytest

from shared.events.contracts import CATALOGUE
from shared.events.envelope import InvalidEvent, new_envelope, parse_envelope
from shared.events.model import ReferralStatusChangedV1

STATUS = {"referral_id": "0d7f8c1e-6a43-4a59-9d2a-5f0a4b6c2e11",
          "intake_id": "5b2a1f3e-0c5d-4d4e-8e9f-1a2b3c4d5e6f", "need": "living_costs",
          "partner": "jobcenter", "service": "sgb2", "status": "received",
          "previous_status": "requested", "reason": None, "partner_case_ref": "JC-1",
          "version": 2, "changed_at": "2026-11-21T09:00:00+00:00", "changed_by": "x"}


def envelope(**changes) -> dict:
    wire = json.loads(new_envelope("referral.status_changed", 1, "referral", "referral/1",
                                   STATUS, correlation_id="corr-1").to_json())
    wire.update(changes)
    return wire


def test_an_envelope_carries_the_cloudevents_attributes_and_correlation():
    wire = envelope()
    for attribute in ("id", "source", "specversion", "type", "time", "subject",
                      "correlationid", "causationid", "schemaversion", "data"):
        assert attribute in wire
    assert wire["specversion"] == "1.0" and wire["source"] == "/lotse/referral"
    assert parse_envelope(json.dumps(wire)).correlationid == "corr-1"


def test_an_unknown_envelope_attribute_is_refused():
    with pytest.raises(InvalidEvent, match="surprise"):
        parse_envelope(json.dumps(envelope(surprise=1)))


def test_an_unknown_payload_field_is_refused_and_named():
    wire = envelope()
    wire["data"]["extra"] = "x"
    with pytest.raises(InvalidEvent, match="extra"):
        parse_envelope(json.dumps(wire))


def test_a_missing_payload_field_is_refused_and_named():
    wire = envelope()
    del wire["data"]["partner"]
    with pytest.raises(InvalidEvent, match="partner"):
        parse_envelope(json.dumps(wire))


@pytest.mark.parametrize("attribute, value", [
    ("specversion", "0.3"), ("id", ""), ("id", "x" * 65), ("type", "Referral-Changed"),
    ("time", "yesterday"), ("time", "2026-11-21T09:00:00"), ("schemaversion", "1"),
    ("schemaversion", 0), ("schemaversion", True), ("correlationid", None), ("data", []),
    ("subject", 7), ("datacontenttype", "text/xml"), ("causationid", 5)])
def test_an_envelope_attribute_out_of_its_rules_is_refused_and_named(attribute, value):
    with pytest.raises(InvalidEvent, match=attribute):
        parse_envelope(json.dumps(envelope(**{attribute: value})))


def test_a_missing_envelope_attribute_is_refused_and_named():
    wire = envelope()
    del wire["time"]
    with pytest.raises(InvalidEvent, match="time"):
        parse_envelope(json.dumps(wire))


def test_a_payload_value_of_another_type_is_refused_where_it_is_read_and_named():
    wire = envelope()
    wire["data"]["version"] = "2"
    received = parse_envelope(json.dumps(wire))  # names only: values are checked as read
    with pytest.raises(InvalidEvent, match="version: expected int"):
        ReferralStatusChangedV1.from_envelope(received)
    wire["data"]["version"], wire["data"]["status"] = 2, "lost"
    with pytest.raises(InvalidEvent, match="status"):
        ReferralStatusChangedV1.from_envelope(parse_envelope(json.dumps(wire)))


def test_an_unknown_schema_version_is_refused():
    with pytest.raises(InvalidEvent, match="v9"):
        parse_envelope(json.dumps(envelope(schemaversion=9)))


def test_bytes_that_are_not_json_are_refused():
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_envelope(b"\x00garbage")


def test_a_payload_that_breaks_its_contract_never_becomes_an_event():
    with pytest.raises(ValueError, match="status"):
        new_envelope("referral.status_changed", 1, "referral", "r/1", {**STATUS, "status": "x"})


def test_every_catalogued_event_names_its_producer_and_consumers():
    for entry in CATALOGUE:
        assert entry.producer and entry.consumers
        assert entry.schema.__doc__
