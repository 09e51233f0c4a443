"""A newcomer, their consultations and consents: plain domain code, no Flask, no SQL, no bus.

A person is recorded once; every visit is a new consultation on that person. Consent is given
per recipient partner (or, coarsely, for the partners the needs are routed to) and can be
withdrawn at any time.
"""
from __future__ import annotations

import secrets
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Sequence

import idna

from shared.events.model import (ConsentGivenV1, ConsentV2, ConsentWithdrawnV1,
                                 IntakeFactsAddedV1, IntakeHouseholdMemberV2,
                                 IntakeRecordedV2, NeedV2, PersonV2,
                                 ReferralRequestedV1, ReferralStatusChangedV1, ResidenceV2)
from shared.events.vocabulary import ReferralStatus
from shared.reference import CHILD_RELATIONS, districts_for_postcode

URGENCIES = ("low", "normal", "high", "urgent")
INTERPRETER = ("none", "on_site", "video")
CHANNELS = ("in_person", "phone", "video")
CONTACT_CHANNELS = ("phone", "sms", "email", "post", "in_person")
RELATIONS = ("spouse", "partner", "child", "parent", "sibling", "grandchild", "grandparent",
             "other")
ROUTED_PARTNERS = None  # a coarse consent covers the partners the needs are routed to


def _l(message: str) -> str:
    """Marks a message for the gettext catalogue (`make translations` extracts _l): the API
    answers in English, the staff pages translate it where they show it."""
    return message


EARLIEST_BIRTH_DATE = date(1900, 1, 1)
NAME_BLANK = _l("Must not be empty or only spaces.")
NAME_CONTROL = _l("Contains a control character (such as a line break, tab, NUL or ESC): "
                  "a name is one line of text.")
NAME_INVISIBLE = _l("Contains an invisible character (zero-width or text-direction "
                    "control): type the name as printed in the passport.")
NAME_UNASSIGNED = _l("Contains a character that belongs to no script (unassigned or "
                     "private use).")
BORN_TOO_EARLY = _l("lies before 1900-01-01")
NO_SUCH_MEMBER = _l("names no member of the household (counted from 0)")
NEED_TWICE = _l("lists a need twice for the same person")
IN_FUTURE = _l("lies in the future")
BEFORE_BIRTH = _l("lies before the date of birth")
NAME_THE_MEMBER = _l("say whom it is for: the same need names a household member")
FACT_RECORDED = _l("is recorded already; a new consultation records a change")
_CONTROLS = {"Cc", "Zl", "Zp"}  # line and paragraph separators break a line too
_UNASSIGNED = {"Cn", "Co", "Cs"}
_JOINERS = "\u200c\u200d"  # ZWNJ, ZWJ


def name_problem(name: str) -> str | None:
    """Why a person's name cannot be stored as typed, or None. Any script's letters and
    combining marks, spaces, apostrophes and hyphens pass; control characters, invisible
    formatting (zero-width spaces, word joiner, BOM, every bidi control) do not: they make
    two records of one person look alike but never match, or turn a name around on screen.
    ZWNJ and ZWJ pass only where a script needs them (Persian Alizadeh: علی, ZWNJ, زاده;
    Sinhala Sri: ශ්, ZWJ, රී), by the IDNA rules (RFC 5892 CONTEXTJ), never between Latin
    letters."""
    if not name.strip():
        return NAME_BLANK
    for i, char in enumerate(name):
        category = unicodedata.category(char)
        if category in _CONTROLS:
            return NAME_CONTROL
        if category in _UNASSIGNED:
            return NAME_UNASSIGNED
        if category == "Cf" and not (char in _JOINERS and _joins(name, i)):
            return NAME_INVISIBLE
    return None


def _joins(name: str, i: int) -> bool:
    try:
        return idna.valid_contextj(name, i)
    except (ValueError, IndexError):  # no letter on one side: nothing to join
        return False


class IntakeError(Exception):
    """A rule broken by the input; `field` names the input field staff must fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class OtherName:
    given_name: str
    family_name: str


@dataclass(frozen=True)
class Address:
    street: str
    postcode: str
    city: str
    district: str | None = None  # the city district (Stadtbezirk); None: outside or unclear

    def located(self) -> Address:
        """The address with its district filled in where the postcode lies in only one."""
        candidates = districts_for_postcode(self.postcode)
        if self.district is None and len(candidates) == 1:
            return replace(self, district=candidates[0])
        return self


@dataclass(frozen=True)
class Contact:
    phone: str | None = None
    email: str | None = None
    address: Address | None = None
    no_fixed_address: bool = False
    preferred_channel: str | None = None


@dataclass(frozen=True)
class HouseholdMember:
    given_name: str
    family_name: str
    relation: str
    birth_date: date


@dataclass(frozen=True)
class Person:
    """Names exactly as in the passport; other spellings (native script, older passports) aside."""

    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    languages: tuple[str, ...]
    other_names: tuple[OtherName, ...] = ()
    nationalities: tuple[str, ...] = ()
    preferred_language: str | None = None
    interpreter: str = "none"
    contact: Contact = field(default_factory=Contact)
    household: tuple[HouseholdMember, ...] = ()

    @property
    def all_nationalities(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.nationality, *self.nationalities)))

    @property
    def main_language(self) -> str | None:
        return self.preferred_language or (self.languages[0] if self.languages else None)


@dataclass(frozen=True)
class Residence:
    status: str
    legal_basis: str | None = None
    document_type: str | None = None
    valid_until: date | None = None
    first_issue_date: date | None = None
    purpose: str | None = None  # shared.reference.RESIDENCE_PURPOSES


@dataclass(frozen=True)
class Need:
    code: str
    urgency: str = "normal"
    note: str | None = None
    for_member: int | None = None  # the household member it is for (index); None: the person


@dataclass
class Consent:
    """Consent to share the person's data with one partner (or the routed partners)."""

    share_with_partners: bool
    method: str
    language: str
    partner: str | None = ROUTED_PARTNERS
    purpose: str = "referral"
    information_version: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)
    given_at: datetime | None = None
    recorded_by: str | None = None
    derived_from: uuid.UUID | None = None
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.share_with_partners and self.withdrawn_at is None

    def withdraw(self, *, person_id: uuid.UUID | str, by: str, reason: str | None,
                 now: datetime) -> ConsentWithdrawnV1:
        """Withdrawal works from now on (earlier processing stays lawful, Art. 7(3) GDPR);
        returns its announcement (consent.withdrawn: referrals relying on it stop)."""
        if self.withdrawn_at is not None:
            raise IntakeError("consent", "this consent was already withdrawn")
        self.withdrawn_at, self.withdrawn_by, self.withdrawal_reason = now, by, reason
        return ConsentWithdrawnV1(consent_id=_uuid(self.id), person_id=_uuid(person_id),
                                  partner=self.partner, withdrawn_at=now, withdrawn_by=by,
                                  reason=reason)

    def given_to(self, person_id: uuid.UUID | str) -> ConsentGivenV1:
        """The announcement of this consent, given (and recorded) after the consultation:
        referrals waiting for it may leave (consent.given)."""
        if self.given_at is None:
            raise IntakeError("consent", "a consent is announced once it was given")
        return ConsentGivenV1(consent_id=_uuid(self.id), person_id=_uuid(person_id),
                              partner=self.partner, method=self.method,
                              language=self.language, purpose=self.purpose,
                              given_at=self.given_at)


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    """An id as events carry it (records read back from a table hold strings)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def normalise_needs(needs: Sequence[str | Need]) -> tuple[Need, ...]:
    return tuple(n if isinstance(n, Need) else Need(n) for n in needs)


@dataclass
class Intake:
    """One consultation (visit) of a person, with the needs found and the consents given."""

    id: uuid.UUID
    reference: str
    person_id: uuid.UUID
    person: Person
    residence_status: str
    site: str
    needs: tuple[str, ...]
    consent: Consent
    recorded_by: str
    recorded_at: datetime
    residence: Residence | None = None
    need_details: tuple[Need, ...] = ()
    consents: tuple[Consent, ...] = ()
    channel: str = "in_person"
    arrival_date: date | None = None
    notes: str | None = None
    # announced, not yet published: the handler stages them with the intake (uow.publish)
    events: list[IntakeRecordedV2] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def record(cls, *, person: Person, residence_status: str, site: str,
               needs: Sequence[str | Need], consent: Consent | None, recorded_by: str,
               now: datetime, person_id: uuid.UUID | None = None,
               residence: Residence | None = None, consents: Sequence[Consent] = (),
               channel: str = "in_person", arrival_date: date | None = None,
               notes: str | None = None) -> "Intake":
        """Record a consultation; referrals follow by event, each needing a valid consent."""
        details = normalise_needs(needs)
        codes = tuple(n.code for n in details)
        _check(person, details, consents, arrival_date, now)
        consent = consent or Consent(False, "digital", person.main_language or "de")
        given = tuple(replace(c, given_at=c.given_at or now, recorded_by=recorded_by)
                      for c in ((consent, *consents) if consent.share_with_partners
                                else tuple(consents)))
        intake = cls(id=uuid.uuid4(), reference=new_reference(now),
                     person_id=person_id or uuid.uuid4(), person=person,
                     residence_status=residence_status, site=site, needs=codes,
                     consent=consent, recorded_by=recorded_by, recorded_at=now,
                     residence=residence or Residence(residence_status), need_details=details,
                     consents=given, channel=channel, arrival_date=arrival_date, notes=notes)
        intake.events.append(intake.recorded())
        return intake

    def add_facts(self, *, first_issue_date: date | None = None,
                  arrival_date: date | None = None, purpose: str | None = None, by: str,
                  now: datetime) -> IntakeFactsAddedV1:
        """Routing facts the consultation left out, recorded later (a referral waits on hold
        for one): each only while it is not recorded (a change of a recorded fact is a new
        consultation's), and announced, so that what waited for it is routed."""
        residence = self.residence or Residence(self.residence_status)
        given = {"residence.first_issue_date": first_issue_date,
                 "arrival_date": arrival_date, "residence.purpose": purpose}
        recorded = {"residence.first_issue_date": residence.first_issue_date,
                    "arrival_date": self.arrival_date, "residence.purpose": residence.purpose}
        if all(v is None for v in given.values()):
            raise IntakeError("facts", "names no fact to add")
        for name, value in given.items():
            if value is not None and recorded[name] is not None:
                raise IntakeError(name, FACT_RECORDED)
        today = now.date()
        if first_issue_date and first_issue_date > today:
            raise IntakeError("residence.first_issue_date", IN_FUTURE)
        if first_issue_date and first_issue_date < self.person.birth_date:
            raise IntakeError("residence.first_issue_date", BEFORE_BIRTH)
        if arrival_date and arrival_date > today:
            raise IntakeError("arrival_date", IN_FUTURE)
        if arrival_date and arrival_date < self.person.birth_date:
            raise IntakeError("arrival_date", BEFORE_BIRTH)
        self.residence = replace(
            residence, first_issue_date=first_issue_date or residence.first_issue_date,
            purpose=purpose or residence.purpose)
        self.arrival_date = arrival_date or self.arrival_date
        return IntakeFactsAddedV1(intake_id=_uuid(self.id), person_id=_uuid(self.person_id),
                                  first_issue_date=first_issue_date, arrival_date=arrival_date,
                                  residence_purpose=purpose, recorded_at=now, recorded_by=by)

    def household_as_recorded(self) -> tuple[IntakeHouseholdMemberV2, ...]:
        """The household as this consultation announces and keeps it (see _member)."""
        return tuple(self._member(i, m) for i, m in enumerate(self.person.household))

    def _member(self, index: int, member: HouseholdMember) -> IntakeHouseholdMemberV2:
        """A household member as the event carries them: named only where a need may be
        theirs (a need names them, or they are a child), so that a partner learns whom a
        case is for; the others' names stay here (minimisation)."""
        named = member.relation in CHILD_RELATIONS or any(
            n.for_member == index for n in self.need_details)
        return IntakeHouseholdMemberV2(
            relation=member.relation, birth_date=member.birth_date,
            given_name=member.given_name if named else None,
            family_name=member.family_name if named else None)

    def recorded(self) -> IntakeRecordedV2:
        """Its announcement, with what downstream services need: routing facts, needs,
        valid consents, household (intake.recorded)."""
        p, r = self.person, self.residence or Residence(self.residence_status)
        return IntakeRecordedV2(
            intake_id=_uuid(self.id), person_id=_uuid(self.person_id),
            reference=self.reference, recorded_at=self.recorded_at,
            recorded_by=self.recorded_by, site=self.site, channel=self.channel,
            person=PersonV2(given_name=p.given_name, family_name=p.family_name,
                            birth_date=p.birth_date, nationality=p.nationality,
                            nationalities=p.all_nationalities, languages=tuple(p.languages),
                            preferred_language=p.main_language, interpreter=p.interpreter,
                            household=self.household_as_recorded()),
            residence=ResidenceV2(status=r.status, legal_basis=r.legal_basis,
                                  document_type=r.document_type, valid_until=r.valid_until,
                                  first_issue_date=r.first_issue_date, purpose=r.purpose),
            arrival_date=self.arrival_date,
            district=p.contact.address.district if p.contact.address else None,
            needs=tuple(NeedV2(code=n.code, urgency=n.urgency, for_member=n.for_member)
                        for n in self.need_details),
            consents=tuple(ConsentV2(consent_id=_uuid(c.id), partner=c.partner,
                                     method=c.method, language=c.language,
                                     purpose=c.purpose,
                                     information_version=c.information_version)
                           for c in self.consents if c.valid))


def _check(person: Person, needs: Sequence[Need], consents: Sequence[Consent],
           arrival_date: date | None, now: datetime) -> None:
    today = now.date()
    if person.birth_date > today:
        raise IntakeError("person.birth_date", IN_FUTURE)
    if person.birth_date < EARLIEST_BIRTH_DATE:
        raise IntakeError("person.birth_date", BORN_TOO_EARLY)
    if arrival_date and arrival_date > today:
        raise IntakeError("arrival_date", IN_FUTURE)
    if arrival_date and arrival_date < person.birth_date:
        raise IntakeError("arrival_date", BEFORE_BIRTH)
    for i, member in enumerate(person.household):
        if member.birth_date > today:
            raise IntakeError(f"person.household.{i}.birth_date", IN_FUTURE)
        if member.birth_date < EARLIEST_BIRTH_DATE:
            raise IntakeError(f"person.household.{i}.birth_date", BORN_TOO_EARLY)
    for i, need in enumerate(needs):
        if need.for_member is not None and need.for_member >= len(person.household):
            raise IntakeError(f"needs.{i}.for_member", NO_SUCH_MEMBER)
    # the same need twice only for different people (two children's school places)
    if len({(n.code, n.for_member) for n in needs}) != len(needs):
        raise IntakeError("needs", NEED_TWICE)
    for i, need in enumerate(needs):  # an unnamed one would go to the one child it fits
        if need.for_member is None and any(n.code == need.code and n.for_member is not None
                                           for n in needs):
            raise IntakeError(f"needs.{i}.for_member", NAME_THE_MEMBER)
    partners = [c.partner for c in consents]
    if len(set(partners)) != len(partners):
        raise IntakeError("consents", "lists a partner twice")
    if person.preferred_language and person.preferred_language not in person.languages:
        raise IntakeError("person.preferred_language", "must be one of the person's languages")


_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a counter


def new_reference(now: datetime) -> str:
    """A short reference staff can read to the person, e.g. LT-2026-7K3QXM."""
    return f"LT-{now.year}-" + "".join(secrets.choice(_ALPHABET) for _ in range(6))


@dataclass(frozen=True)
class ReferralView:
    """What the intake service knows of a referral, learnt from referral events."""

    referral_id: uuid.UUID
    intake_id: uuid.UUID
    need: str
    partner: str | None
    service: str | None
    status: ReferralStatus
    reason: str | None  # a coded reason, else the routing reason
    partner_case_ref: str | None
    version: int
    updated_at: datetime
    overdue_since: datetime | None = None
    appointment: dict[str, Any] | None = None  # booked by the partner (registration office)
    for_member: int | None = None  # the household member it is for (index); None: the person

    def __post_init__(self) -> None:  # read back from a table: the status as a string
        object.__setattr__(self, "status", ReferralStatus(self.status))

    @classmethod
    def learnt_from(cls, event: ReferralRequestedV1 | ReferralStatusChangedV1,
                    at: datetime) -> "ReferralView":
        """The referral as this event (of `at`) shows it: a request names its routing
        reason, a status change its coded reason, case reference and appointment."""
        reason: str | None
        case_ref: str | None
        appointment: dict[str, Any] | None
        if isinstance(event, ReferralRequestedV1):
            reason, case_ref, appointment = event.routing_reason, None, None
        else:
            reason, case_ref = event.reason, event.partner_case_ref
            appointment = event.appointment
        return cls(referral_id=event.referral_id, intake_id=event.intake_id, need=event.need,
                   partner=event.partner, service=event.service, status=event.status,
                   reason=reason or None, partner_case_ref=case_ref,
                   version=event.referral_version, updated_at=at, appointment=appointment,
                   for_member=event.for_member)


def newer(current: ReferralView | None, incoming: ReferralView) -> bool:
    """Events may arrive out of order (retries); only a higher referral version wins."""
    return current is None or incoming.version > current.version
