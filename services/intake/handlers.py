"""Intake use cases: each opens a unit of work and commits once."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Callable

from services.intake import access_log, idempotency, matching, repository
from services.intake.domain import (FACT_RECORDED, Consent, Intake, IntakeError, Need, Person,
                                    Residence)
from shared.events.envelope import Envelope
from shared.events.model import ReferralOverdueV1, typed


@dataclass(frozen=True)
class RecordIntake:
    person: Person
    residence_status: str
    site: str
    needs: tuple[str | Need, ...]
    consent: Consent | None
    staff: str
    person_id: uuid.UUID | None = None
    residence: Residence | None = None
    consents: tuple[Consent, ...] = ()
    channel: str = "in_person"
    arrival_date: date | None = None
    notes: str | None = None


def person_keys(person: Person) -> list[str]:
    keys = list(matching.search_keys(person.given_name, person.family_name))
    for name in person.other_names:
        keys += matching.search_keys(name.given_name, name.family_name)
    return keys


def _living_person(uow, person_id: uuid.UUID):
    """The record to add a visit to; a merged duplicate forwards to its survivor."""
    record = repository.get_person(uow.session, str(person_id))
    if record is None:
        raise IntakeError("person_id", "no person with this id")
    if record.merged_into:
        return _living_person(uow, record.merged_into)
    return record


def record_intake(cmd: RecordIntake, uow, now: Callable[[], datetime],
                  accessor: access_log.Accessor | None = None,
                  key: idempotency.IdempotencyKey | None = None) -> Intake:
    """Store a consultation (and the person, new or returning) and return it as stored; its
    intake.recorded event leaves through the outbox, and the access-log entry of `accessor`
    (staff, through the API or a page) is written, in the same transaction: neither the
    intake nor its entry is kept without the other. With an idempotency `key` used before
    (same body), the intake recorded then is returned and nothing new is recorded;
    idempotency.KeyConflict if it was used with another body."""
    with uow:
        earlier = idempotency.claim(uow.session, key, now()) if key else None
        if earlier is not None:
            return _recorded_before(uow, earlier, accessor, now())
        existing = _living_person(uow, cmd.person_id) if cmd.person_id else None
        intake = Intake.record(person=cmd.person, residence_status=cmd.residence_status,
                               site=cmd.site, needs=cmd.needs, consent=cmd.consent,
                               recorded_by=cmd.staff, now=now(),
                               person_id=existing.id if existing else None,
                               residence=cmd.residence, consents=cmd.consents,
                               channel=cmd.channel, arrival_date=cmd.arrival_date,
                               notes=cmd.notes)
        person = cmd.person
        if existing:  # spellings recorded earlier stay, whatever this visit's form showed
            known = existing.person.other_names
            person = replace(person, other_names=tuple(dict.fromkeys(
                (*person.other_names, *known))))
        repository.save_person(uow.session, intake.person_id, person, person_keys(person),
                               intake.recorded_at, exists=existing is not None)
        repository.add_intake(uow.session, intake)
        repository.add_consents(uow.session, intake.person_id, intake.id, intake.consents)
        if accessor is not None:
            access_log.record(uow.session, [accessor.access(
                "changed" if existing else "created", intake.recorded_at,
                intake_id=str(intake.id), person_id=str(intake.person_id))])
        for event in intake.events:
            uow.publish(event)
        intake.events.clear()
        if key:
            idempotency.attach(uow.session, key, str(intake.id))
        uow.commit()
    return intake


def _recorded_before(uow, intake_id: str, accessor: access_log.Accessor | None,
                     at: datetime) -> Intake:
    """A repeated request: the intake as recorded, its answer logged as a view."""
    intake = repository.get_intake(uow.session, intake_id)
    if accessor is not None:
        access_log.record(uow.session, [accessor.access(
            "viewed", at, intake_id=intake_id, person_id=str(intake.person_id))])
    uow.commit()
    return intake


FACT_FIELDS = {"first_issue_date": "residence.first_issue_date",
               "arrival_date": "arrival_date", "purpose": "residence.purpose"}


def add_facts(intake_id: str, facts: dict, staff: str, uow,
              now: Callable[[], datetime]) -> Intake:
    """Record routing facts a consultation left out (`facts`: first_issue_date,
    arrival_date, purpose); the referrals that waited for one are routed by event."""
    with uow:
        intake = repository.get_intake(uow.session, intake_id)
        if intake is None:
            raise LookupError("no intake with this id")
        if not intake.needs:
            raise IntakeError("needs", "the consultation recorded no needs: nothing waits "
                                       "for a fact")
        event = intake.add_facts(**facts, by=staff, now=now())
        if not repository.save_facts(uow.session, intake_id, facts):  # added meanwhile
            field = next(name for name, value in facts.items() if value is not None)
            raise IntakeError(FACT_FIELDS[field], FACT_RECORDED)
        uow.publish(event)
        uow.commit()
    return intake


def give_consent(person_id: uuid.UUID, consent: Consent, staff: str, uow,
                 now: Callable[[], datetime]) -> uuid.UUID:
    """Record a consent given after the consultation; on-hold referrals may then leave."""
    with uow:
        person = _living_person(uow, person_id)
        if not consent.share_with_partners:
            raise IntakeError("share_with_partners", "a consent must allow sharing")
        consent = replace(consent, given_at=now(), recorded_by=staff)
        repository.add_consent(uow.session, person.id, None, consent)
        uow.publish(consent.given_to(person.id))
        uow.commit()
    return consent.id


def withdraw_consent(consent_id: uuid.UUID, staff: str, reason: str | None, uow,
                     now: Callable[[], datetime], person_id: uuid.UUID | None = None) -> None:
    """Withdraw a consent (and what was derived from it); referrals relying on it stop.
    `person_id`: the person the caller means (a page's); another person's consent is unknown."""
    with uow:
        found = repository.get_consent(uow.session, str(consent_id))
        if found is None or (person_id is not None and found[0] != str(person_id)):
            raise LookupError("no consent with this id")
        person_id, consent = found
        withdrawn = [consent] + [c for _, c in repository.consents_of(uow.session, person_id)
                                 if c.derived_from == consent.id and c.withdrawn_at is None]
        for item in withdrawn:
            event = item.withdraw(person_id=person_id, by=staff, reason=reason, now=now())
            repository.save_withdrawal(uow.session, item)
            uow.publish(event)
        uow.commit()


@dataclass
class MergeResult:
    merge_id: str
    moved: dict = field(default_factory=dict)


def merge_persons(survivor_id: uuid.UUID, duplicate_id: uuid.UUID, staff: str,
                  reason: str | None, uow, now: Callable[[], datetime]) -> MergeResult:
    """Fold a duplicate record into the survivor; audited, and undoable with undo_merge."""
    with uow:
        if survivor_id == duplicate_id:
            raise IntakeError("duplicate_id", "a person cannot be merged with itself")
        survivor = _living_person(uow, survivor_id)
        duplicate = repository.get_person(uow.session, str(duplicate_id))
        if duplicate is None or duplicate.merged_into:
            raise IntakeError("duplicate_id", "no unmerged person with this id")
        moved = {"intakes": [str(i.id) for i in repository.intakes_of(uow.session,
                                                                      str(duplicate.id))],
                 "consents": [str(c.id) for _, c in repository.consents_of(uow.session,
                                                                           str(duplicate.id))]}
        repository.move_intakes(uow.session, moved["intakes"], str(survivor.id))
        repository.move_consents(uow.session, moved["consents"], str(survivor.id))
        repository.set_merged_into(uow.session, str(duplicate.id), str(survivor.id))
        result = MergeResult(str(uuid.uuid4()), moved)
        repository.add_merge(uow.session, result.merge_id, str(survivor.id), str(duplicate.id),
                             moved, staff, now(), reason)
        uow.commit()
    return result


def undo_merge(merge_id: str, staff: str, uow, now: Callable[[], datetime]) -> None:
    """Give the merged record back its consultations and consents."""
    with uow:
        merge = repository.get_merge(uow.session, merge_id)
        if merge is None:
            raise LookupError("no merge with this id")
        if merge.undone_at is not None:
            raise IntakeError("merge", "this merge was already undone")
        repository.move_intakes(uow.session, merge.moved["intakes"], merge.merged_id)
        repository.move_consents(uow.session, merge.moved["consents"], merge.merged_id)
        repository.set_merged_into(uow.session, merge.merged_id, None)
        repository.mark_merge_undone(uow.session, merge_id, staff, now())
        uow.commit()


def note_overdue(envelope: Envelope, uow) -> None:
    """Show staff that a referral of this intake is overdue (until its status moves on)."""
    overdue: ReferralOverdueV1 = typed(envelope)
    repository.mark_referral_overdue(uow.session, str(overdue.referral_id),
                                     overdue.noticed_at.isoformat())
