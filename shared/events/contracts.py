"""Payload contracts: one marshmallow schema per event type and version (unknown fields refused).

Producer and consumers must agree on these, so they live here and nowhere else. Adding an
optional field keeps the version; changing a field's meaning or making one required means a
new version next to the old one.
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from shared.events.envelope import InvalidEvent
from shared.reference import RESIDENCE_PURPOSES, codes
from shared.events.vocabulary import (PARTNER_REPORTED, DeadlinePhase, NoticeKind,
                                      ReferralStatus, values)

REFERRAL_STATUSES = values(ReferralStatus)
PARTNER_REPORTED_STATUSES = values(PARTNER_REPORTED)


class Contract(Schema):
    class Meta:
        unknown = RAISE


class PersonV1(Contract):
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    nationality = fields.String(required=True, validate=validate.Length(equal=2))
    languages = fields.List(fields.String(), required=True)


class ConsentV1(Contract):
    share_with_partners = fields.Boolean(required=True)
    method = fields.String(required=True)
    language = fields.String(required=True)


class IntakeRecordedV1(Contract):
    """Staff recorded an intake after a consultation."""

    intake_id = fields.UUID(required=True)
    reference = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    recorded_by = fields.String(required=True)
    site = fields.String(required=True)
    person = fields.Nested(PersonV1, required=True)
    residence_status = fields.String(required=True)
    needs = fields.List(fields.String(), required=True)
    consent = fields.Nested(ConsentV1, required=True)


class HouseholdMemberV2(Contract):
    relation = fields.String(required=True)
    birth_date = fields.Date(required=True)


class IntakeHouseholdMemberV2(HouseholdMemberV2):
    # optional additions within v2 (issue 19): a need may be a household member's (a child's
    # school place), and its partner must know whom the case is for
    given_name = fields.String(load_default=None, allow_none=True)
    family_name = fields.String(load_default=None, allow_none=True)


class PersonV2(Contract):
    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    nationality = fields.String(required=True, validate=validate.Length(equal=2))
    nationalities = fields.List(fields.String(validate=validate.Length(equal=2)), required=True)
    languages = fields.List(fields.String(), required=True)
    preferred_language = fields.String(required=True, allow_none=True)
    interpreter = fields.String(required=True, validate=validate.OneOf(
        ("none", "on_site", "video")))
    household = fields.List(fields.Nested(IntakeHouseholdMemberV2), required=True)


class ResidenceV2(Contract):
    status = fields.String(required=True)
    legal_basis = fields.String(required=True, allow_none=True)
    document_type = fields.String(required=True, allow_none=True)
    valid_until = fields.Date(required=True, allow_none=True)
    first_issue_date = fields.Date(required=True, allow_none=True)
    # optional addition within v2 (issue 19): benefits law asks why the person is here
    purpose = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        codes(RESIDENCE_PURPOSES)), metadata={
        "description": "purpose of residence (shared.reference.RESIDENCE_PURPOSES); null: "
                       "not recorded"})


class NeedV2(Contract):
    code = fields.String(required=True)
    urgency = fields.String(required=True, validate=validate.OneOf(
        ("low", "normal", "high", "urgent")))
    # optional addition within v2 (issue 19)
    for_member = fields.Integer(load_default=None, allow_none=True,
                                validate=validate.Range(min=0), metadata={
        "description": "the household member the need is for (index in person.household); "
                       "null: the person, or the one household child the need fits"})


class ConsentV2(Contract):
    consent_id = fields.UUID(required=True)
    partner = fields.String(required=True, allow_none=True,
                            metadata={"description": "null: the partners the needs go to"})
    method = fields.String(required=True)
    language = fields.String(required=True)
    purpose = fields.String(required=True)
    information_version = fields.String(required=True, allow_none=True)


class IntakeRecordedV2(Contract):
    """Staff recorded a consultation: the person's routing facts, needs and valid consents.

    v2 adds the person id, residence details (first-issue date for date-dependent rules),
    household (children drive Kita and school needs), urgency per need and per-partner
    consents. Names are included only because referrals to partners need them."""

    intake_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    reference = fields.String(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    recorded_by = fields.String(required=True)
    site = fields.String(required=True)
    channel = fields.String(required=True)
    person = fields.Nested(PersonV2, required=True)
    residence = fields.Nested(ResidenceV2, required=True)
    arrival_date = fields.Date(required=True, allow_none=True)
    needs = fields.List(fields.Nested(NeedV2), required=True)
    consents = fields.List(fields.Nested(ConsentV2), required=True)
    # optional addition within v2 (issue 4): the city district of the address, not the address
    district = fields.String(load_default=None, allow_none=True, metadata={
        "description": "city district (Stadtbezirk) of the person's address; null: none, "
                       "outside the city or unclear"})


class IntakeFactsAddedV1(Contract):
    """Staff recorded routing facts a consultation had left out (a referral waits on hold for
    one, "fact missing"); each fact is given once, null: not part of this addition."""

    intake_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    first_issue_date = fields.Date(required=True, allow_none=True)
    arrival_date = fields.Date(required=True, allow_none=True)
    residence_purpose = fields.String(required=True, allow_none=True, validate=validate.OneOf(
        codes(RESIDENCE_PURPOSES)))
    recorded_at = fields.AwareDateTime(required=True)
    recorded_by = fields.String(required=True)


class ConsentWithdrawnV1(Contract):
    """The person withdrew a consent; nothing more may be shared on its strength."""

    consent_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    partner = fields.String(required=True, allow_none=True)
    withdrawn_at = fields.AwareDateTime(required=True)
    withdrawn_by = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)


class ConsentGivenV1(Contract):
    """The person gave a consent after the consultation (e.g. for an on-hold referral)."""

    consent_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    partner = fields.String(required=True, allow_none=True)
    method = fields.String(required=True)
    language = fields.String(required=True)
    purpose = fields.String(required=True)
    given_at = fields.AwareDateTime(required=True)


class ReferralPersonV1(Contract):
    """Only what a partner needs to open a case (data minimisation)."""

    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    birth_date = fields.Date(required=True)
    nationality = fields.String(required=True)
    languages = fields.List(fields.String(), required=True)


class ReferralMemberV1(Contract):
    """The household member a referral is for (a child's school place)."""

    relation = fields.String(required=True)
    given_name = fields.String(required=True, allow_none=True)
    family_name = fields.String(required=True, allow_none=True)
    birth_date = fields.Date(required=True)


class ReferralRequestedV1(Contract):
    """A referral was routed to a partner service and should become a case there."""

    referral_id = fields.UUID(required=True)
    intake_id = fields.UUID(required=True)
    intake_reference = fields.String(required=True)
    need = fields.String(required=True)
    partner = fields.String(required=True)
    service = fields.String(required=True)
    routing_reason = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    version = fields.Integer(required=True)
    requested_at = fields.AwareDateTime(required=True)
    residence_status = fields.String(required=True)
    person = fields.Nested(ReferralPersonV1, required=True)
    consent_method = fields.String(required=True)
    # optional additions within v1 (issue 3): who the person is and what allows sharing
    person_id = fields.UUID(load_default=None, allow_none=True)
    consent_id = fields.UUID(load_default=None, allow_none=True)
    legal_basis = fields.String(load_default=None, allow_none=True)
    # optional addition within v1 (issue 5): the household (relation, birth date), for
    # partners whose case covers it (the Jobcenter's benefit household)
    household = fields.List(fields.Nested(HouseholdMemberV2), load_default=None,
                            allow_none=True)
    # optional additions within v1 (issue 19): the household member the referral is for
    for_member = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "index in the intake's person.household; null: the person"})
    for_person = fields.Nested(ReferralMemberV1, load_default=None, allow_none=True, metadata={
        "description": "who the case is for when it is a household member's"})


class Appointment(Contract):
    """An appointment the partner booked: the person must come in person (registration)."""

    starts_at = fields.AwareDateTime(required=True)
    location = fields.String(required=True, validate=validate.Length(min=1, max=300))
    bring = fields.List(fields.String(validate=validate.Length(max=300)), load_default=list,
                        metadata={"description": "documents the person must bring"})


class ReferralStatusChangedV1(Contract):
    """A referral moved to another status (FHIR Task status codes)."""

    referral_id = fields.UUID(required=True)
    intake_id = fields.UUID(required=True)
    need = fields.String(required=True)
    partner = fields.String(required=True, allow_none=True)
    service = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    previous_status = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    partner_case_ref = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)
    changed_at = fields.AwareDateTime(required=True)
    changed_by = fields.String(required=True)
    # optional additions within v1 (issue 4): coded outcome of a completion, free-text note
    outcome = fields.String(load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True)
    # optional addition within v1 (issue 5): the appointment the partner booked
    appointment = fields.Nested(Appointment, load_default=None, allow_none=True)
    # optional addition within v1 (issue 19): the household member the referral is for
    for_member = fields.Integer(load_default=None, allow_none=True, metadata={
        "description": "index in the intake's person.household; null: the person"})


class ReferralDeadlineV1(Contract):
    """A referral's deadline is near (reminder_due) or has passed (overdue)."""

    referral_id = fields.UUID(required=True)
    intake_id = fields.UUID(required=True)
    partner = fields.String(required=True, allow_none=True)
    service = fields.String(required=True, allow_none=True)
    partner_case_ref = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    phase = fields.String(required=True, validate=validate.OneOf(values(DeadlinePhase)))
    due_at = fields.AwareDateTime(required=True)
    noticed_at = fields.AwareDateTime(required=True)


class PartnerCaseOpenedV1(Contract):
    """The partner's system confirmed a case for a referral."""

    case_id = fields.UUID(required=True)
    referral_id = fields.UUID(required=True)
    partner = fields.String(required=True)
    partner_case_ref = fields.String(required=True)
    opened_at = fields.AwareDateTime(required=True)
    # optional addition within v1 (issue 5): the appointment the partner booked
    appointment = fields.Nested(Appointment, load_default=None, allow_none=True)


class PartnerCaseStatusReportedV1(Contract):
    """The partner reported a later status of its case (accepted, rejected, completed...)."""

    case_id = fields.UUID(required=True)
    referral_id = fields.UUID(required=True)
    partner = fields.String(required=True)
    partner_case_ref = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PARTNER_REPORTED_STATUSES))
    reason = fields.String(required=True, allow_none=True)
    reported_at = fields.AwareDateTime(required=True)
    outcome = fields.String(load_default=None, allow_none=True)  # optional addition (v1)


class PartnerCaseFailedV1(Contract):
    """The partner refused the case request for good (e.g. validation); it will not be retried."""

    case_id = fields.UUID(required=True)
    referral_id = fields.UUID(required=True)
    partner = fields.String(required=True)
    reason = fields.String(required=True)
    failed_at = fields.AwareDateTime(required=True)


class PartnerCaseNoticeSentV1(Contract):
    """A partner that had received the person's data was told that the consent was withdrawn
    or that the data must be erased (ids and codes only, never the person)."""

    case_id = fields.UUID(required=True)
    referral_id = fields.UUID(required=True)
    partner = fields.String(required=True)
    partner_case_ref = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(values(NoticeKind)))
    reason = fields.String(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(required=True)


class PersonErasureRequestedV1(Contract):
    """A person's data must be erased everywhere (GDPR Art. 17): ids only, never the data."""

    request_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    person_ids = fields.List(fields.UUID(), required=True, metadata={
        "description": "the person and the duplicates merged into them"})
    intake_ids = fields.List(fields.UUID(), required=True)
    referral_ids = fields.List(fields.UUID(), required=True)
    requested_at = fields.AwareDateTime(required=True)


class PersonErasedV1(Contract):
    """A service erased what it held about the person (its answer to an erasure request).

    Produced by every erasing service (referral, partner_adapter, ops, reporting), each once
    per request."""

    request_id = fields.UUID(required=True)
    person_id = fields.UUID(required=True)
    service = fields.String(required=True)
    erased_at = fields.AwareDateTime(required=True)
    partners_notified = fields.List(fields.String(), load_default=list, metadata={
        "description": "partner_adapter: partners an erasure notice was queued for"})
    referral_ids = fields.List(fields.UUID(), load_default=list, metadata={
        "description": "referral: every referral it erased (also those the intake service "
                       "had not heard of yet), so the partner adapter erases their cases too"})


ACCESS_ACTIONS = ("viewed", "listed", "created", "changed", "merged", "unmerged",
                  "consent_given", "consent_withdrawn", "exported", "erased", "answered")


class AccessedRecordV1(Contract):
    """One record seen or changed: whichever ids the service knows (at least one)."""

    person_id = fields.UUID(load_default=None, allow_none=True)
    intake_id = fields.UUID(load_default=None, allow_none=True)
    referral_id = fields.UUID(load_default=None, allow_none=True)

    @validates_schema
    def _some_id(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not any(data.get(k) for k in ("person_id", "intake_id", "referral_id")):
            raise ValidationError("name a person, intake or referral id", "person_id")


class PersonalDataAccessedV1(Contract):
    """A user saw or changed a person's data outside the intake service (a referral page, the
    partner portal); the intake service keeps the per-person access log. Ids and actions
    only, never the data seen. Published by the referral service and the partner adapter."""

    actor = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True, validate=validate.Length(min=1, max=20))
    partner = fields.String(required=True, allow_none=True)
    service = fields.String(required=True, validate=validate.Length(min=1, max=40))
    action = fields.String(required=True, validate=validate.OneOf(ACCESS_ACTIONS))
    channel = fields.String(required=True, validate=validate.OneOf(("ui", "api")))
    at = fields.AwareDateTime(required=True)
    records = fields.List(fields.Nested(AccessedRecordV1), required=True,
                          validate=validate.Length(min=1, max=500))


QUEUE_CLOSED = ("served", "no_show")
# v2: also "left", closed at the end of the city's day while still waiting or called
QUEUE_CLOSED_V2 = (*QUEUE_CLOSED, "left")


class QueueTicketDrawnV1(Contract):
    """A walk-in ticket was drawn (at a kiosk or by reception). A ticket holds no name: the
    site, its number of the day, the language the visitor chose and a topic."""

    ticket_id = fields.UUID(required=True)
    site = fields.String(required=True)
    number = fields.String(required=True)
    language = fields.String(required=True)
    topic = fields.String(required=True)
    drawn_at = fields.AwareDateTime(required=True)


class QueueTicketCalledV1(QueueTicketDrawnV1):
    """A staff member called the ticket: how long it waited, and whether nobody calling
    spoke its language (an interpreter needed). Who called is not said."""

    called_at = fields.AwareDateTime(required=True)
    waited_seconds = fields.Integer(required=True)
    interpreter_needed = fields.Boolean(required=True)


class QueueTicketClosedV1(QueueTicketCalledV1):
    """The called visitor was served, or did not come; a served ticket may name the
    consultation recorded for it."""

    status = fields.String(required=True, validate=validate.OneOf(QUEUE_CLOSED))
    closed_at = fields.AwareDateTime(required=True)
    intake_id = fields.UUID(load_default=None, allow_none=True)


class QueueTicketClosedV2(QueueTicketDrawnV1):
    """The ticket was closed: served or no-show after its call (as in v1), or left without
    being served, closed by the intake service at the end of the city's day while still
    waiting (then it was never called: no call, no wait, no interpreter need) or called."""

    called_at = fields.AwareDateTime(required=True, allow_none=True)
    waited_seconds = fields.Integer(required=True, allow_none=True)
    interpreter_needed = fields.Boolean(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(QUEUE_CLOSED_V2))
    closed_at = fields.AwareDateTime(required=True)
    intake_id = fields.UUID(load_default=None, allow_none=True)


INBOUND_STATUSES = ("invited", "arrived", "declined", "not_reached")


class InboundReferralReceivedV1(Contract):
    """A partner referred a person to the centre (an inbound referral). Ids and codes only:
    the sender, the residence status and the needs; never a name."""

    inbound_referral_id = fields.UUID(required=True)
    sender = fields.String(required=True, validate=validate.Length(min=1, max=40))
    residence_status = fields.String(required=True)
    needs = fields.List(fields.String(), required=True)
    received_at = fields.AwareDateTime(required=True)


class InboundReferralStatusChangedV1(Contract):
    """Staff moved an inbound referral on: invited (the appointment's site), arrived (the
    intake recorded for the person), declined or not reached. Neither who did it nor the
    reason given travels."""

    inbound_referral_id = fields.UUID(required=True)
    sender = fields.String(required=True, validate=validate.Length(min=1, max=40))
    status = fields.String(required=True, validate=validate.OneOf(INBOUND_STATUSES))
    changed_at = fields.AwareDateTime(required=True)
    appointment_site = fields.String(load_default=None, allow_none=True)
    intake_id = fields.UUID(load_default=None, allow_none=True)


@dataclass(frozen=True)
class ContractEntry:
    event_type: str
    version: int
    schema: type[Contract]
    producer: str
    consumers: tuple[str, ...]


CATALOGUE: tuple[ContractEntry, ...] = (
    ContractEntry("intake.recorded", 1, IntakeRecordedV1, "intake", ("referral", "reporting")),
    ContractEntry("intake.recorded", 2, IntakeRecordedV2, "intake", ("referral", "reporting")),
    ContractEntry("intake.facts_added", 1, IntakeFactsAddedV1, "intake", ("referral",)),
    ContractEntry("consent.given", 1, ConsentGivenV1, "intake", ("referral",)),
    ContractEntry("consent.withdrawn", 1, ConsentWithdrawnV1, "intake",
                  ("referral", "partner_adapter", "reporting")),
    ContractEntry("referral.requested", 1, ReferralRequestedV1, "referral",
                  ("partner_adapter", "intake", "reporting")),
    ContractEntry("referral.status_changed", 1, ReferralStatusChangedV1, "referral",
                  ("intake", "reporting")),
    ContractEntry("referral.reminder_due", 1, ReferralDeadlineV1, "referral",
                  ("partner_adapter",)),
    ContractEntry("referral.overdue", 1, ReferralDeadlineV1, "referral", ("intake", "reporting")),
    ContractEntry("partner_case.opened", 1, PartnerCaseOpenedV1, "partner_adapter", ("referral",)),
    ContractEntry("partner_case.status_reported", 1, PartnerCaseStatusReportedV1,
                  "partner_adapter", ("referral",)),
    ContractEntry("partner_case.failed", 1, PartnerCaseFailedV1, "partner_adapter",
                  ("referral",)),
    ContractEntry("partner_case.notice_sent", 1, PartnerCaseNoticeSentV1, "partner_adapter",
                  ("referral",)),
    ContractEntry("personal_data.accessed", 1, PersonalDataAccessedV1, "referral",
                  ("intake",)),
    ContractEntry("person.erasure_requested", 1, PersonErasureRequestedV1, "intake",
                  ("referral", "partner_adapter", "ops", "reporting")),
    ContractEntry("person.erased", 1, PersonErasedV1, "referral",
                  ("intake", "partner_adapter", "ops", "reporting")),
    # the walk-in queue's waiting times, counted by reporting (issue 22, item 1)
    ContractEntry("queue.ticket_drawn", 1, QueueTicketDrawnV1, "intake", ("ops", "reporting")),
    ContractEntry("queue.ticket_called", 1, QueueTicketCalledV1, "intake", ("ops", "reporting")),
    ContractEntry("queue.ticket_closed", 1, QueueTicketClosedV1, "intake", ("ops", "reporting")),
    ContractEntry("queue.ticket_closed", 2, QueueTicketClosedV2, "intake", ("ops", "reporting")),
    # inbound referrals (issue 22, item 5): partners' referrals to the centre, for reporting
    # to count once it subscribes
    ContractEntry("inbound_referral.received", 1, InboundReferralReceivedV1, "intake",
                  ("ops",)),
    ContractEntry("inbound_referral.status_changed", 1, InboundReferralStatusChangedV1,
                  "intake", ("ops",)),
)
CONTRACTS = {(entry.event_type, entry.version): entry.schema for entry in CATALOGUE}


@functools.cache  # built once per contract: a load keeps no state in the schema
def _schema(event_type: str, version: int) -> Contract:
    try:
        return CONTRACTS[(event_type, version)]()
    except KeyError:
        raise InvalidEvent(f"unknown event type/version {event_type} v{version}") from None


@functools.cache
def _field_names(event_type: str, version: int) -> tuple[frozenset[str], frozenset[str]]:
    """(every field, the required fields) of a contract, by their names on the wire."""
    declared = _schema(event_type, version).fields.items()
    return (frozenset(f.data_key or name for name, f in declared),
            frozenset(f.data_key or name for name, f in declared if f.required))


def check_field_names(event_type: str, version: int, data: dict[str, Any]) -> None:
    """A received payload names its contract's required fields and no other (its values
    are checked as typed events read them); InvalidEvent names what is wrong."""
    if (event_type, version) not in CONTRACTS:
        raise InvalidEvent(f"unknown event type/version {event_type} v{version}")
    known, required = _field_names(event_type, version)
    errors = {name: ["Unknown field."] for name in data.keys() - known}
    errors.update({name: ["Missing data for required field."] for name in required - data.keys()})
    if errors:
        raise InvalidEvent(f"invalid {event_type} v{version} payload", errors)


def validate_payload(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Load a received payload; InvalidEvent names the offending fields."""
    schema = _schema(event_type, version)
    try:
        schema.load(data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid {event_type} v{version} payload", exc.messages) from None
    return data


def dump_payload(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """Serialise an outgoing payload and check it, so a poison event never enters the bus."""
    schema = _schema(event_type, version)
    wire: dict[str, Any] = _jsonable(data)
    errors = schema.validate(wire)
    if errors:
        raise ValueError(f"{event_type} v{version} payload breaks its contract: {errors}")
    return wire


def _jsonable(value: Any) -> Any:
    """Plain JSON values: dates and datetimes as ISO 8601, UUIDs as strings."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
