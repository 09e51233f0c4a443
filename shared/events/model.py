"""The typed event model: one frozen dataclass per event contract version of
shared/events/contracts.py (the catalogue stays there), upcasters beside the versions they
lift, and `typed(envelope)`: an incoming event as the dataclass of its type's newest version.

Field names and order follow the contracts; ids are UUIDs, times datetimes, days dates and
coded values Enums (shared/events/vocabulary.py). Where a contract's field is called
`version` (the referral's own version), the attribute is `referral_version`, since `version`
names the contract version. An appointment stays the dict the partner sent (its contract is
`Appointment`), so that what is stored and passed on is exactly what the partner wrote.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar, dataclass_transform

from shared.events import contracts as c
from shared.events.envelope import Envelope, InvalidEvent
from shared.events.typed import Part, TypedEvent
from shared.events.vocabulary import DeadlinePhase, NoticeKind, ReferralStatus

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(field,))
def event(cls: type[_T]) -> type[_T]:
    """Every typed event and part of one: a frozen dataclass with keyword-only fields."""
    return dataclass(frozen=True, kw_only=True)(cls)


# --- intake.recorded ---------------------------------------------------------------------
@event
class PersonV1(Part):
    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    languages: tuple[str, ...]


@event
class ConsentV1(Part):
    share_with_partners: bool
    method: str
    language: str


@event
class HouseholdMemberV2(Part):
    relation: str
    birth_date: date


@event
class IntakeHouseholdMemberV2(HouseholdMemberV2):
    given_name: str | None = None  # added within v2: absent in events recorded before
    family_name: str | None = None


@event
class PersonV2(Part):
    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    nationalities: tuple[str, ...]
    languages: tuple[str, ...]
    preferred_language: str | None
    interpreter: str
    household: tuple[IntakeHouseholdMemberV2, ...]


@event
class ResidenceV2(Part):
    status: str
    legal_basis: str | None
    document_type: str | None
    valid_until: date | None
    first_issue_date: date | None
    purpose: str | None = None  # added within v2: absent in events recorded before


@event
class NeedV2(Part):
    code: str
    urgency: str
    for_member: int | None = None  # added within v2: an index in person.household


@event
class ConsentV2(Part):
    consent_id: uuid.UUID
    partner: str | None
    method: str
    language: str
    purpose: str
    information_version: str | None


@event
class IntakeRecordedV2(TypedEvent):
    type: ClassVar[str] = "intake.recorded"
    version: ClassVar[int] = 2
    intake_id: uuid.UUID
    # None only in an event lifted from v1, which predates person ids (the v2 contract
    # requires one, so such an event can never be published)
    person_id: uuid.UUID | None
    reference: str
    recorded_at: datetime
    recorded_by: str
    site: str
    channel: str
    person: PersonV2
    residence: ResidenceV2
    arrival_date: date | None
    needs: tuple[NeedV2, ...]
    consents: tuple[ConsentV2, ...]
    district: str | None = None

    @property
    def subject(self) -> str:
        return f"intake/{self.intake_id}"


@event
class IntakeFactsAddedV1(TypedEvent):
    type: ClassVar[str] = "intake.facts_added"
    version: ClassVar[int] = 1
    intake_id: uuid.UUID
    person_id: uuid.UUID
    first_issue_date: date | None
    arrival_date: date | None
    residence_purpose: str | None
    recorded_at: datetime
    recorded_by: str

    @property
    def subject(self) -> str:
        return f"intake/{self.intake_id}"


@event
class IntakeRecordedV1(TypedEvent):
    type: ClassVar[str] = "intake.recorded"
    version: ClassVar[int] = 1
    intake_id: uuid.UUID
    reference: str
    recorded_at: datetime
    recorded_by: str
    site: str
    person: PersonV1
    residence_status: str
    needs: tuple[str, ...]
    consent: ConsentV1

    @property
    def subject(self) -> str:
        return f"intake/{self.intake_id}"

    def upcast(self) -> IntakeRecordedV2:
        """The v2 shape. What v1 did not record takes the intake's defaults (an in-person
        consultation, no interpreter, normal urgency, the referral purpose) or stays
        unknown; a consent to share is the intake's own (its id is the intake id, as the
        migration to stored consents made it)."""
        p, consent = self.person, self.consent
        return IntakeRecordedV2(
            intake_id=self.intake_id, person_id=None, reference=self.reference,
            recorded_at=self.recorded_at, recorded_by=self.recorded_by, site=self.site,
            channel="in_person",
            person=PersonV2(given_name=p.given_name, family_name=p.family_name,
                            birth_date=p.birth_date, nationality=p.nationality,
                            nationalities=(p.nationality,), languages=p.languages,
                            preferred_language=None, interpreter="none", household=()),
            residence=ResidenceV2(status=self.residence_status, legal_basis=None,
                                  document_type=None, valid_until=None,
                                  first_issue_date=None),
            arrival_date=None, needs=tuple(NeedV2(code=n, urgency="normal")
                                           for n in self.needs),
            consents=(ConsentV2(consent_id=self.intake_id, partner=None,
                                method=consent.method, language=consent.language,
                                purpose="referral", information_version=None),)
            if consent.share_with_partners else ())


# --- consents ----------------------------------------------------------------------------
@event
class ConsentGivenV1(TypedEvent):
    type: ClassVar[str] = "consent.given"
    version: ClassVar[int] = 1
    consent_id: uuid.UUID
    person_id: uuid.UUID
    partner: str | None
    method: str
    language: str
    purpose: str
    given_at: datetime

    @property
    def subject(self) -> str:
        return f"person/{self.person_id}"


@event
class ConsentWithdrawnV1(TypedEvent):
    type: ClassVar[str] = "consent.withdrawn"
    version: ClassVar[int] = 1
    consent_id: uuid.UUID
    person_id: uuid.UUID
    partner: str | None
    withdrawn_at: datetime
    withdrawn_by: str
    reason: str | None

    @property
    def subject(self) -> str:
        return f"person/{self.person_id}"


# --- referrals ---------------------------------------------------------------------------
@event
class ReferralPersonV1(Part):
    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    languages: tuple[str, ...]


@event
class ReferralMemberV1(Part):
    relation: str
    given_name: str | None
    family_name: str | None
    birth_date: date


@event
class ReferralRequestedV1(TypedEvent):
    type: ClassVar[str] = "referral.requested"
    version: ClassVar[int] = 1
    referral_id: uuid.UUID
    intake_id: uuid.UUID
    intake_reference: str
    need: str
    partner: str
    service: str
    routing_reason: str
    status: ReferralStatus
    referral_version: int = field(metadata={"wire": "version"})
    requested_at: datetime
    residence_status: str
    person: ReferralPersonV1
    consent_method: str
    person_id: uuid.UUID | None = None
    consent_id: uuid.UUID | None = None
    legal_basis: str | None = None
    household: tuple[HouseholdMemberV2, ...] | None = None
    for_member: int | None = None
    for_person: ReferralMemberV1 | None = None

    @property
    def subject(self) -> str:
        return f"referral/{self.referral_id}"


@event
class ReferralStatusChangedV1(TypedEvent):
    type: ClassVar[str] = "referral.status_changed"
    version: ClassVar[int] = 1
    referral_id: uuid.UUID
    intake_id: uuid.UUID
    need: str
    partner: str | None
    service: str | None
    status: ReferralStatus
    previous_status: str | None  # a ReferralStatus, but the contract does not say so
    reason: str | None
    partner_case_ref: str | None
    referral_version: int = field(metadata={"wire": "version"})
    changed_at: datetime
    changed_by: str
    outcome: str | None = None
    note: str | None = None
    appointment: dict[str, Any] | None = None
    for_member: int | None = None

    @property
    def subject(self) -> str:
        return f"referral/{self.referral_id}"


@event
class _ReferralDeadline(TypedEvent):
    """referral.reminder_due and referral.overdue share one contract."""

    referral_id: uuid.UUID
    intake_id: uuid.UUID
    partner: str | None
    service: str | None
    partner_case_ref: str | None
    status: ReferralStatus
    phase: DeadlinePhase
    due_at: datetime
    noticed_at: datetime

    @property
    def subject(self) -> str:
        return f"referral/{self.referral_id}"


@event
class ReferralReminderDueV1(_ReferralDeadline):
    type: ClassVar[str] = "referral.reminder_due"
    version: ClassVar[int] = 1


@event
class ReferralOverdueV1(_ReferralDeadline):
    type: ClassVar[str] = "referral.overdue"
    version: ClassVar[int] = 1


# --- partner cases -----------------------------------------------------------------------
@event
class PartnerCaseOpenedV1(TypedEvent):
    type: ClassVar[str] = "partner_case.opened"
    version: ClassVar[int] = 1
    case_id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    partner_case_ref: str
    opened_at: datetime
    appointment: dict[str, Any] | None = None

    @property
    def subject(self) -> str:
        return f"partner_case/{self.case_id}"


@event
class PartnerCaseStatusReportedV1(TypedEvent):
    type: ClassVar[str] = "partner_case.status_reported"
    version: ClassVar[int] = 1
    case_id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    partner_case_ref: str
    status: ReferralStatus
    reason: str | None
    reported_at: datetime
    outcome: str | None = None

    @property
    def subject(self) -> str:
        return f"partner_case/{self.case_id}"


@event
class PartnerCaseFailedV1(TypedEvent):
    type: ClassVar[str] = "partner_case.failed"
    version: ClassVar[int] = 1
    case_id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    reason: str
    failed_at: datetime

    @property
    def subject(self) -> str:
        return f"partner_case/{self.case_id}"


@event
class PartnerCaseNoticeSentV1(TypedEvent):
    type: ClassVar[str] = "partner_case.notice_sent"
    version: ClassVar[int] = 1
    case_id: uuid.UUID
    referral_id: uuid.UUID
    partner: str
    partner_case_ref: str
    kind: NoticeKind
    reason: str
    occurred_at: datetime
    sent_at: datetime

    @property
    def subject(self) -> str:
        return f"partner_case/{self.case_id}"


# --- persons: access log and erasure -----------------------------------------------------
@event
class AccessedRecordV1(Part):
    person_id: uuid.UUID | None = None
    intake_id: uuid.UUID | None = None
    referral_id: uuid.UUID | None = None


@event
class PersonalDataAccessedV1(TypedEvent):
    type: ClassVar[str] = "personal_data.accessed"
    version: ClassVar[int] = 1
    actor: str
    role: str
    partner: str | None
    service: str
    action: str
    channel: str
    at: datetime
    records: tuple[AccessedRecordV1, ...]

    @property
    def subject(self) -> str:
        return f"access/{self.actor}"


@event
class PersonErasureRequestedV1(TypedEvent):
    type: ClassVar[str] = "person.erasure_requested"
    version: ClassVar[int] = 1
    request_id: uuid.UUID
    person_id: uuid.UUID
    person_ids: tuple[uuid.UUID, ...]
    intake_ids: tuple[uuid.UUID, ...]
    referral_ids: tuple[uuid.UUID, ...]
    requested_at: datetime

    @property
    def subject(self) -> str:
        return f"person/{self.person_id}"


@event
class PersonErasedV1(TypedEvent):
    type: ClassVar[str] = "person.erased"
    version: ClassVar[int] = 1
    request_id: uuid.UUID
    person_id: uuid.UUID
    service: str
    erased_at: datetime
    partners_notified: tuple[str, ...] = ()
    referral_ids: tuple[uuid.UUID, ...] = ()

    @property
    def subject(self) -> str:
        return f"person/{self.person_id}"


# --- the walk-in queue -------------------------------------------------------------------
@event
class QueueTicketDrawnV1(TypedEvent):
    type: ClassVar[str] = "queue.ticket_drawn"
    version: ClassVar[int] = 1
    ticket_id: uuid.UUID
    site: str
    number: str
    language: str
    topic: str
    drawn_at: datetime

    @property
    def subject(self) -> str:
        return f"queue_ticket/{self.ticket_id}"


@event
class QueueTicketCalledV1(QueueTicketDrawnV1):
    type: ClassVar[str] = "queue.ticket_called"
    called_at: datetime
    waited_seconds: int
    interpreter_needed: bool


@event
class QueueTicketClosedV1(QueueTicketCalledV1):
    type: ClassVar[str] = "queue.ticket_closed"
    status: str
    closed_at: datetime
    intake_id: uuid.UUID | None = None

    def upcast(self) -> QueueTicketClosedV2:
        """The v2 shape: a v1 ticket was always called before it closed."""
        return QueueTicketClosedV2(
            ticket_id=self.ticket_id, site=self.site, number=self.number,
            language=self.language, topic=self.topic, drawn_at=self.drawn_at,
            called_at=self.called_at, waited_seconds=self.waited_seconds,
            interpreter_needed=self.interpreter_needed, status=self.status,
            closed_at=self.closed_at, intake_id=self.intake_id)


@event
class QueueTicketClosedV2(QueueTicketDrawnV1):
    """Closed: served or no-show after its call, or left without being served (closed at
    the end of the city's day, perhaps never called: then its call is None)."""
    type: ClassVar[str] = "queue.ticket_closed"
    version: ClassVar[int] = 2
    called_at: datetime | None
    waited_seconds: int | None
    interpreter_needed: bool | None
    status: str
    closed_at: datetime
    intake_id: uuid.UUID | None = None


# --- inbound referrals -------------------------------------------------------------------
@event
class InboundReferralReceivedV1(TypedEvent):
    type: ClassVar[str] = "inbound_referral.received"
    version: ClassVar[int] = 1
    inbound_referral_id: uuid.UUID
    sender: str
    residence_status: str
    needs: tuple[str, ...]
    received_at: datetime

    @property
    def subject(self) -> str:
        return f"inbound_referral/{self.inbound_referral_id}"


@event
class InboundReferralStatusChangedV1(TypedEvent):
    type: ClassVar[str] = "inbound_referral.status_changed"
    version: ClassVar[int] = 1
    inbound_referral_id: uuid.UUID
    sender: str
    status: str
    changed_at: datetime
    appointment_site: str | None = None
    intake_id: uuid.UUID | None = None

    @property
    def subject(self) -> str:
        return f"inbound_referral/{self.inbound_referral_id}"


# --- the catalogue, typed ----------------------------------------------------------------
EVENT_CLASSES: dict[tuple[str, int], type[TypedEvent]] = {
    (cls.type, cls.version): cls for cls in (
        IntakeRecordedV1, IntakeRecordedV2, IntakeFactsAddedV1, ConsentGivenV1,
        ConsentWithdrawnV1,
        ReferralRequestedV1, ReferralStatusChangedV1, ReferralReminderDueV1,
        ReferralOverdueV1, PartnerCaseOpenedV1, PartnerCaseStatusReportedV1,
        PartnerCaseFailedV1, PartnerCaseNoticeSentV1, PersonalDataAccessedV1,
        PersonErasureRequestedV1, PersonErasedV1, QueueTicketDrawnV1, QueueTicketCalledV1,
        QueueTicketClosedV1, QueueTicketClosedV2, InboundReferralReceivedV1,
        InboundReferralStatusChangedV1)}
# Each type's newest version: what `typed` lifts older versions to.
NEWEST: dict[str, type[TypedEvent]] = {}
for _cls in EVENT_CLASSES.values():
    if _cls.version > getattr(NEWEST.get(_cls.type), "version", 0):
        NEWEST[_cls.type] = _cls
CONTRACT_OF: dict[type[TypedEvent], type[c.Contract]] = {
    cls: c.CONTRACTS[key] for key, cls in EVENT_CLASSES.items() if key in c.CONTRACTS}


def typed(envelope: Envelope) -> Any:
    """The envelope's event as the dataclass of its type's newest version (older versions
    upcast); InvalidEvent for a type or version the catalogue does not know, or a payload
    value of another type than its field's. Read once per envelope."""
    if envelope._event is not None:
        return envelope._event
    cls = EVENT_CLASSES.get((envelope.type, envelope.schemaversion))
    if cls is None:
        raise InvalidEvent(f"unknown event type/version {envelope.type} "
                           f"v{envelope.schemaversion}")
    found: Any = cls.from_envelope(envelope)
    while not isinstance(found, NEWEST[envelope.type]):
        found = found.upcast()
    object.__setattr__(envelope, "_event", found)  # frozen, but this is a cache of its data
    return found
