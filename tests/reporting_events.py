"""Events the reporting service counts, as their producers publish them (through the wire):
consultations of people, referrals through their lifecycle, deadline breaches, consent
withdrawals, erasure requests, walk-in tickets drawn, called and closed. Shared by the
reporting tests of every tier."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from shared.events.envelope import Envelope, new_envelope, parse_envelope
from shared.events.model import (ConsentWithdrawnV1, IntakeHouseholdMemberV2, IntakeRecordedV2,
                                 NeedV2, PersonErasureRequestedV1, PersonV2,
                                 QueueTicketCalledV1, QueueTicketClosedV1, QueueTicketClosedV2,
                                 QueueTicketDrawnV1,
                                 ReferralOverdueV1, ReferralPersonV1, ReferralRequestedV1,
                                 ReferralStatusChangedV1, ResidenceV2)
from shared.events.typed import TypedEvent
from shared.events.vocabulary import DeadlinePhase, ReferralStatus

# Monday 7 March 2022, 09:00 in Dortmund (08:00 UTC): the surge after 24 February
T0 = datetime(2022, 3, 7, 8, 0, tzinfo=timezone.utc)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def wire(event: TypedEvent, producer: str) -> Envelope:
    """The event as a consumer receives it: checked by its contract, serialised, parsed."""
    sent = new_envelope(event.type, event.version, producer, event.subject, event.data(),
                        correlation_id=str(uuid.uuid4()))
    return parse_envelope(sent.to_json())


@dataclass
class Visitor:
    """A person coming to the centre: the dimensions reporting counts them by."""

    nationality: str = "UA"
    birth_date: date = date(1987, 3, 14)
    languages: tuple[str, ...] = ("uk", "ru")
    preferred_language: str | None = None
    interpreter: str = "none"
    household: int = 0  # members besides the person
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def consultation(self, when: datetime, site: str = "infopoint",
                     channel: str = "in_person") -> tuple[uuid.UUID, Envelope]:
        intake_id = uuid.uuid4()
        members = tuple(IntakeHouseholdMemberV2(relation="child", birth_date=date(2015, 1, 1))
                        for _ in range(self.household))
        event = IntakeRecordedV2(
            intake_id=intake_id, person_id=self.id, reference="LT-2022-000001",
            recorded_at=when, recorded_by="staff", site=site, channel=channel,
            person=PersonV2(given_name="Olena", family_name="Kovalenko",
                            birth_date=self.birth_date, nationality=self.nationality,
                            nationalities=(self.nationality,), languages=self.languages,
                            preferred_language=self.preferred_language,
                            interpreter=self.interpreter, household=members),
            residence=ResidenceV2(status="TEMP_PROTECTION_24", legal_basis=None,
                                  document_type=None, valid_until=None,
                                  first_issue_date=None),
            arrival_date=None, needs=(NeedV2(code="orientation_counselling", urgency="normal"),),
            consents=())
        return intake_id, wire(event, "intake")

    def consent_withdrawn(self, when: datetime, partner: str | None = None) -> Envelope:
        return wire(ConsentWithdrawnV1(consent_id=uuid.uuid4(), person_id=self.id,
                                       partner=partner, withdrawn_at=when,
                                       withdrawn_by="staff", reason=None), "intake")

    def erasure_requested(self, when: datetime, intake_ids=(), referral_ids=()) -> Envelope:
        return wire(PersonErasureRequestedV1(
            request_id=uuid.uuid4(), person_id=self.id, person_ids=(self.id,),
            intake_ids=tuple(intake_ids), referral_ids=tuple(referral_ids),
            requested_at=when), "intake")


class Referral:
    """One referral's events as the referral service publishes them; `version` counts up."""

    def __init__(self, intake_id: uuid.UUID, need: str = "orientation_counselling",
                 partner: str | None = "welfare", service: str | None = "mbe"):
        self.id, self.intake_id, self.need = uuid.uuid4(), intake_id, need
        self.partner, self.service, self.version = partner, service, 0
        self.status: ReferralStatus | None = None

    def requested(self, when: datetime) -> Envelope:
        self.version += 1
        self.status = ReferralStatus.REQUESTED
        return wire(ReferralRequestedV1(
            referral_id=self.id, intake_id=self.intake_id, intake_reference="LT-2022-000001",
            need=self.need, partner=self.partner or "", service=self.service or "",
            routing_reason="rule", status=ReferralStatus.REQUESTED,
            referral_version=self.version, requested_at=when,
            residence_status="TEMP_PROTECTION_24",
            person=ReferralPersonV1(given_name="Olena", family_name="Kovalenko",
                                    birth_date=date(1987, 3, 14), nationality="UA",
                                    languages=("uk",)),
            consent_method="signed_form"), "referral")

    def becomes(self, status: str, when: datetime, reason: str | None = None,
                outcome: str | None = None) -> Envelope:
        self.version += 1
        previous, self.status = self.status, ReferralStatus(status)
        return wire(ReferralStatusChangedV1(
            referral_id=self.id, intake_id=self.intake_id, need=self.need,
            partner=self.partner, service=self.service, status=self.status,
            previous_status=previous.value if previous else None, reason=reason,
            partner_case_ref=None, referral_version=self.version, changed_at=when,
            changed_by="partner:welfare", outcome=outcome), "referral")

    def overdue(self, phase: str, when: datetime) -> Envelope:
        return wire(ReferralOverdueV1(
            referral_id=self.id, intake_id=self.intake_id, partner=self.partner,
            service=self.service, partner_case_ref=None,
            status=self.status or ReferralStatus.REQUESTED, phase=DeadlinePhase(phase),
            due_at=when - timedelta(hours=1), noticed_at=when), "referral")


class Ticket:
    """One walk-in ticket's events as the intake service publishes them (walk_in.Ticket
    .event): drawn, called after some minutes, closed."""

    def __init__(self, site: str, language: str, topic: str, drawn: datetime,
                 number: str = "I-001"):
        self.id, self.drawn = uuid.uuid4(), drawn
        self.common = dict(ticket_id=self.id, site=site, number=number, language=language,
                           topic=topic, drawn_at=drawn)
        self.call: dict = {}

    def drawn_event(self) -> Envelope:
        return wire(QueueTicketDrawnV1(**self.common), "intake")

    def called(self, after_minutes: float, interpreter_needed: bool = False) -> Envelope:
        called_at = self.drawn + timedelta(minutes=after_minutes)
        self.call = dict(called_at=called_at, waited_seconds=int(after_minutes * 60),
                         interpreter_needed=interpreter_needed)
        return wire(QueueTicketCalledV1(**self.common, **self.call), "intake")

    def closed(self, status: str, after_minutes: float,
               intake_id: uuid.UUID | None = None, version: int = 2) -> Envelope:
        """Served or no-show, `after_minutes` after its call (v1: as published before
        tickets could be left)."""
        closed = (QueueTicketClosedV2 if version == 2 else QueueTicketClosedV1)
        return wire(closed(**self.common, **self.call, status=status,
                           closed_at=self.call["called_at"] + timedelta(minutes=after_minutes),
                           intake_id=intake_id), "intake")

    def left(self, at_moment: datetime) -> Envelope:
        """Closed as left without being served (at the end of its day), called or not."""
        call = self.call or dict(called_at=None, waited_seconds=None, interpreter_needed=None)
        return wire(QueueTicketClosedV2(**self.common, **call, status="left",
                                        closed_at=at_moment), "intake")


@dataclass
class Scene:
    """A known week of the centre: five consultations (three people, one returning), four
    referrals (one rejected and re-routed, one put on hold), deadline breaches, a consent
    withdrawal; five walk-in tickets on Monday (two at the info point: served after 10
    minutes' wait, a no-show after 30 with an interpreter needed; three at the centre: served
    after 5, called after 20, one still waiting); the figures each test expects are in the
    docstrings of its module."""

    events: list[Envelope] = field(default_factory=list)
    olena: Visitor = field(default_factory=lambda: Visitor(household=2))
    ahmad: Visitor = field(default_factory=lambda: Visitor(
        nationality="SY", birth_date=date(2000, 6, 1), languages=("ar",),
        preferred_language="ar", interpreter="video"))
    ioana: Visitor = field(default_factory=lambda: Visitor(
        nationality="RO", birth_date=date(1950, 1, 1), languages=("ro",), household=6))
    intakes: dict[str, uuid.UUID] = field(default_factory=dict)
    referrals: dict[str, Referral] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)

    @classmethod
    def week(cls) -> Scene:
        s = cls()
        s.intakes["olena1"], e = s.olena.consultation(at(0))
        s.events.append(e)
        s.intakes["ahmad"], e = s.ahmad.consultation(at(1), site="centre")
        s.events.append(e)
        s.intakes["ioana"], e = s.ioana.consultation(at(2), site="centre", channel="phone")
        s.events.append(e)
        s.intakes["olena2"], e = s.olena.consultation(at(48))  # Wednesday: returning
        s.events.append(e)
        s.intakes["ahmad2"], e = s.ahmad.consultation(at(24 * 30), site="centre")  # April
        s.events.append(e)
        # welfare answers in 2 h and accepts after 10 h
        a = s.referrals["accepted"] = Referral(s.intakes["olena1"])
        s.events += [a.requested(at(0)), a.becomes("received", at(2)),
                     a.becomes("accepted", at(10))]
        # the jobcenter rejects after 4 h; the need is re-routed to the sozialamt
        b = s.referrals["rejected"] = Referral(s.intakes["ahmad"], need="living_costs",
                                               partner="jobcenter", service="sgb2")
        s.events += [b.requested(at(1)), b.overdue("acknowledgement", at(3)),
                     b.becomes("rejected", at(5), reason="not_eligible")]
        c = s.referrals["rerouted"] = Referral(s.intakes["ahmad"], need="living_costs",
                                               partner="sozialamt", service="asylblg")
        s.events += [c.requested(at(5)), c.becomes("received", at(6)),
                     c.becomes("completed", at(30), outcome="application_filed")]
        # held for a missing fact from the start (no partner yet)
        d = s.referrals["held"] = Referral(s.intakes["ioana"], need="living_costs",
                                           partner=None, service=None)
        s.events.append(d.becomes("on-hold", at(2), reason="fact_missing"))
        s.events.append(s.olena.consent_withdrawn(at(50), partner="welfare"))
        s.events += s.queue_day()
        return s

    def queue_day(self) -> list[Envelope]:
        """Monday's walk-in tickets: at the info point waits of 10 and 30 minutes (served,
        no-show), at the centre of 5 and 20 (served, still called) and one still waiting."""
        t = self.tickets
        served = t["served"] = Ticket("infopoint", "uk", "orientation_counselling", at(0))
        gone = t["no_show"] = Ticket("infopoint", "ar", "housing", at(0.25), "I-002")
        quick = t["quick"] = Ticket("centre", "uk", "living_costs", at(1), "Z-001")
        called = t["called"] = Ticket("centre", "ro", "other", at(3), "Z-002")
        waiting = t["waiting"] = Ticket("centre", "de", "other", at(3.5), "Z-003")
        return [served.drawn_event(), served.called(10),
                served.closed("served", 40, self.intakes.get("olena1")),
                gone.drawn_event(), gone.called(30, interpreter_needed=True),
                gone.closed("no_show", 5),
                quick.drawn_event(), quick.called(5), quick.closed("served", 30),
                called.drawn_event(), called.called(20), waiting.drawn_event()]
