"""Typed events: a frozen dataclass for every contract version, read from an envelope and
written back through the marshmallow contract without losing or changing a value."""
from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime

import pytest
from marshmallow import Schema, fields

from shared.events.contracts import CATALOGUE, validate_payload
from shared.events.envelope import InvalidEvent, new_envelope, parse_envelope
from shared.events.model import (CONTRACT_OF, EVENT_CLASSES, IntakeRecordedV1, IntakeRecordedV2,
                                 ReferralStatusChangedV1, typed)
from shared.events.vocabulary import ReferralStatus

NOW = "2026-11-21T09:00:00+00:00"


def sample(schema: Schema, optional: bool = True) -> dict:
    """A payload meeting the contract: every field (optional ones too, unless not wanted),
    each with the first value its validators allow."""
    out = {}
    for name, f in schema.fields.items():
        if not f.required and not optional:
            continue
        out[name] = _value(f, name)
    return out


def _value(f: fields.Field, name: str):
    choices = getattr(f.validate, "choices", None) if f.validate else None
    if choices:
        return list(choices)[0]
    if isinstance(f, fields.Nested):
        return sample(f.schema)
    if isinstance(f, fields.List):
        return [_value(f.inner, name)]
    if isinstance(f, fields.UUID):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    if isinstance(f, fields.AwareDateTime):
        return NOW
    if isinstance(f, fields.Date):
        return "1990-05-17"
    if isinstance(f, fields.Boolean):
        return True
    if isinstance(f, fields.Integer):
        return 3
    if isinstance(f, fields.Dict):
        return {}
    length = getattr(f.validate, "equal", None) if f.validate else None
    return "DE" if length == 2 else f"{name}-x"


def test_every_contract_version_has_its_dataclass():
    for entry in CATALOGUE:
        cls = EVENT_CLASSES[(entry.event_type, entry.version)]
        assert CONTRACT_OF[cls] is entry.schema
        assert dataclasses.fields(cls) and cls.__dataclass_params__.frozen
    assert len(EVENT_CLASSES) == len(CATALOGUE)


@pytest.mark.parametrize("optional", [True, False], ids=["all fields", "required only"])
@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: f"{e.event_type}-v{e.version}")
def test_an_event_round_trips_through_its_contract(entry, optional):
    payload = sample(entry.schema(), optional)
    envelope = parse_envelope(new_envelope(entry.event_type, entry.version, entry.schema.__name__,
                                           "x/1", payload).to_json())
    cls = EVENT_CLASSES[(entry.event_type, entry.version)]
    event = cls.from_envelope(envelope)
    wire = event.data()
    assert json.loads(json.dumps(wire)) == wire  # JSON values only
    assert validate_payload(entry.event_type, entry.version, wire) == wire
    assert {k: v for k, v in wire.items() if k in payload} == payload
    assert cls.from_data(wire) == event
    assert new_envelope(cls.type, cls.version, "test", event.subject, wire).data == wire


def test_fields_are_typed_values_not_strings():
    entry = next(e for e in CATALOGUE if e.event_type == "referral.status_changed")
    wire = {**sample(entry.schema()), "status": "in-progress", "previous_status": "on-hold"}
    event = ReferralStatusChangedV1.from_data(wire)
    assert isinstance(event.referral_id, uuid.UUID) and isinstance(event.changed_at, datetime)
    assert event.status is ReferralStatus.IN_PROGRESS and event.status == "in-progress"
    assert event.previous_status == ReferralStatus.ON_HOLD
    assert event.referral_version == 3 and event.data()["version"] == 3
    assert event.subject == f"referral/{event.referral_id}"


def test_a_payload_breaking_its_contract_is_refused_by_from_data():
    entry = next(e for e in CATALOGUE if e.event_type == "referral.status_changed")
    with pytest.raises(InvalidEvent, match="status"):
        ReferralStatusChangedV1.from_data({**sample(entry.schema()), "status": "lost"})


def test_an_envelope_of_another_type_is_refused():
    entry = next(e for e in CATALOGUE if e.event_type == "consent.given")
    envelope = new_envelope("consent.given", 1, "intake", "person/1", sample(entry.schema()))
    with pytest.raises(InvalidEvent, match="consent.given"):
        ReferralStatusChangedV1.from_envelope(envelope)


def test_typed_gives_the_newest_version_of_an_older_event():
    v1 = sample(v1_contract())
    v1["needs"] = ["language_course", "housing"]
    event = typed(new_envelope("intake.recorded", 1, "intake", "intake/1", v1))
    assert isinstance(event, IntakeRecordedV2)
    assert event.person_id is None and event.channel == "in_person"
    assert [(n.code, n.urgency) for n in event.needs] == [("language_course", "normal"),
                                                         ("housing", "normal")]
    assert event.person.nationalities == (v1["person"]["nationality"],)
    assert event.person.birth_date == date(1990, 5, 17)
    assert [str(c.consent_id) for c in event.consents] == [v1["intake_id"]]
    assert event.consents[0].method == v1["consent"]["method"]


def test_an_older_event_without_consent_to_share_lifts_to_no_consents():
    v1 = sample(v1_contract())
    v1["consent"]["share_with_partners"] = False
    event = IntakeRecordedV1.from_data(v1).upcast()
    assert event.consents == ()


def test_typed_refuses_an_unknown_version():
    entry = next(e for e in CATALOGUE if e.event_type == "consent.given")
    envelope = new_envelope("consent.given", 1, "intake", "person/1", sample(entry.schema()))
    with pytest.raises(InvalidEvent, match="v7"):
        typed(dataclasses.replace(envelope, schemaversion=7))


def v1_contract() -> Schema:
    return CONTRACT_OF[IntakeRecordedV1]()
