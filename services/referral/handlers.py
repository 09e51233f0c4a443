"""Referral use cases, driven by intake, consent and partner-case events.

The bus handlers of the busiest queues (intakes recorded, partner cases opened, partner
reports) take a batch of events in one transaction with a constant number of statements
(`open_referrals_for_intakes`, `record_cases_opened`, `apply_partner_reports`); their
per-event forms, used when a failed batch is retried message by message, are the same code
with a batch of one, so both end in the same rows and outgoing events.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Callable, Mapping, Sequence

from services.referral import repository
from services.referral.batch import ReferralBatch
from services.referral.consents import ConsentBook
from services.referral.deadlines import DEFAULT_POLICY, WorkingCalendar
from services.referral.domain import (CHILDREN, OUTCOMES, TERMINAL, Actor, DeadlineOutcome,
                                     Need, Outcome, Reason, Referral, Route, SharingBasis,
                                     TransitionNotAllowed, coded, decide_for_household,
                                     facts_from, follow_up, open_referrals,
                                     route_for_household, sharing_basis, told_whom,
                                     unoffered_service)
from shared import metrics
from shared.bus.delivery import TransientError
from shared.events.envelope import Envelope
from shared.partners import DIRECTORY, services_by_partner
from shared.events.model import (ConsentGivenV1, ConsentWithdrawnV1, IntakeFactsAddedV1,
                                 IntakeRecordedV2, PartnerCaseFailedV1, PartnerCaseOpenedV1,
                                 PartnerCaseStatusReportedV1, typed)
from shared.events.vocabulary import ReferralStatus
from shared.logging import correlation_scope

log = logging.getLogger(__name__)
SYSTEM = "lotse-routing"
CALENDAR = WorkingCalendar("NW")  # Dortmund is in North Rhine-Westphalia


def _once(uow, read: Callable):
    """A reference table read once per transaction (an intake opens several referrals)."""
    info = uow.session.info
    if read not in info:
        info[read] = read(uow.session)
    return info[read]


def _plan(uow, referral: Referral, now) -> None:
    """Give the referral the due times of the phase it is in now (and, once, the version of
    the routing table that routed it)."""
    if referral.rule_id and referral.rules_version is None and referral.rule_id != "manual":
        referral.rules_version = _once(uow, repository.current_rules_version)
    policy = _once(uow, repository.deadline_policies).get((referral.partner, referral.service))
    referral.plan_deadlines(policy or DEFAULT_POLICY, CALENDAR, now)


def sharing_basis_now(uow, partner: str, person_id: str | None, share: dict | None,
                      consents: ConsentBook | None = None) -> SharingBasis | None:
    """The one consent check of every path that lets a referral leave (routing, re-routing,
    re-assigning, referring by hand, a prerequisite met): the partner's legal basis, or a
    consent of the person as the consents stand at this moment (a withdrawal counts at once,
    whatever the intake was recorded with). None: the referral waits, nothing leaves.
    `consents`: a batch's reading of them (read from the table if not given)."""
    recorded = [c["consent_id"] for c in (share or {}).get("consents", ())]
    book = consents or ConsentBook(uow.session)
    return sharing_basis(partner, book.in_force(person_id, recorded),
                         _once(uow, repository.legal_bases))


SHARED_PERSON = ("given_name", "family_name", "birth_date", "nationality", "languages")
# The partners told whom a case is for (a household member's need goes only to them).
NAMES_MEMBERS = frozenset(code for code, entry in DIRECTORY.items()
                          if "for_person" in entry.allow_list)


def _share(intake: IntakeRecordedV2) -> dict:
    """What a referral keeps of the intake (as JSON values): what its partner receives and
    the routing facts for re-routing and manual referrals."""
    person, residence = intake.person.wire(), intake.residence.wire()
    return {"person": {k: person[k] for k in SHARED_PERSON},
            "residence_status": residence["status"],
            "consent_method": next((c.method for c in intake.consents), "none"),
            "consents": [c.wire() for c in intake.consents],
            "first_issue_date": residence["first_issue_date"],
            "residence_purpose": residence.get("purpose"),
            "arrival_date": intake.arrival_date.isoformat() if intake.arrival_date else None,
            "nationalities": person["nationalities"],
            "children_born": [m["birth_date"] for m in person["household"]
                              if m["relation"] in CHILDREN],
            "household": person["household"],
            "district": intake.district}


def route_with_added_facts(envelope: Envelope, uow) -> None:
    """Facts the consultation left out were recorded: each referral of the intake keeps them
    (re-routing after a rejection reads them), and those held for a missing fact are
    decided again: to their partner now, or on hold for what holds them now."""
    added: IntakeFactsAddedV1 = typed(envelope)
    referrals = repository.lock_of_intake(uow.session, str(added.intake_id))
    if not referrals:  # intake.recorded travels on another queue: it may not be routed yet
        raise TransientError(f"intake {added.intake_id} has no referrals yet")
    uow.caused_by(envelope)
    now = envelope.time
    for referral in referrals:
        if referral.share:
            referral.share = _with_facts(referral.share, added)
    # all held ones decided first: whether one waits for another's need must not depend on
    # which of them is decided first
    decided = {r.id: told_whom(decide_for_household(r.need, facts_from(r.share),
                                                    _once(uow, repository.rules), now.date(),
                                                    for_member=r.for_member), NAMES_MEMBERS)
               for r in referrals if r.share and r.status == ReferralStatus.ON_HOLD
               and r.reason == Reason.FACT_MISSING}
    for referral in referrals:
        if referral.id in decided:
            route = decided[referral.id] if isinstance(decided[referral.id], Route) else None
            basis = (sharing_basis_now(uow, route.partner, referral.person_id, referral.share)
                     if route else None)
            pending = bool(route and route.requires_need and _prerequisite_pending(
                referrals, route.requires_need, decided))
            if referral.decide_again(decided[referral.id], basis, prerequisite_pending=pending,
                                     by=SYSTEM, now=now):
                _plan(uow, referral, now)  # the due times of where it stands now
        repository.save(uow.session, referral, 0)
        _publish(uow, referral)


def _with_facts(share: dict, added: IntakeFactsAddedV1) -> dict:
    """The referral's kept facts with those added (a fact is added only where none was)."""
    facts = {"first_issue_date": added.first_issue_date, "arrival_date": added.arrival_date,
             "residence_purpose": added.residence_purpose}
    return {**share, **{k: v.isoformat() if isinstance(v, date) else v
                        for k, v in facts.items() if v is not None}}


def _prerequisite_pending(referrals: Sequence[Referral], need: str,
                          decided: Mapping[uuid.UUID, object]) -> bool:
    """Does a referral of the intake for `need` still have to reach its partner (routed, or
    routed by these facts; not ended)? A need the intake did not refer anywhere is no
    prerequisite."""
    return any(r.need == need and not r.superseded_by and r.status not in REACHED_PARTNER
               and r.status not in TERMINAL
               and (r.partner is not None or isinstance(decided.get(r.id), Route))
               for r in referrals)


def open_referrals_for_intake(envelope: Envelope, uow) -> None:
    """One referral per need of a recorded intake (v1 lifted to v2), routed by the rule
    table, leaving only with a consent for its partner or the partner's other legal basis."""
    open_referrals_for_intakes([envelope], uow)


def open_referrals_for_intakes(envelopes: Sequence[Envelope], uow) -> None:
    """open_referrals_for_intake for a batch of recorded intakes, in delivery order, with one
    statement each for: the intakes routed already, the consents of the batch's people, the
    routing table, the consents recorded, the referrals, their history."""
    intakes: list[tuple[Envelope, IntakeRecordedV2]] = [(e, typed(e)) for e in envelopes]
    routed = repository.intakes_with_referrals(uow.session,
                                               [str(i.intake_id) for _, i in intakes])
    consents = ConsentBook(uow.session)
    consents.cover([_text(i.person_id) for _, i in intakes],
                   [c.consent_id for _, i in intakes for c in i.consents])
    opened: list[Referral] = []
    for envelope, intake in intakes:
        if str(intake.intake_id) in routed:
            continue  # the intake was already routed (a re-sent event with a new id)
        routed.add(str(intake.intake_id))
        uow.caused_by(envelope)
        referrals = _route(uow, intake, consents, envelope.time)
        for referral in referrals:
            _publish(uow, referral)
        opened += referrals
    consents.write()
    repository.add_all(uow.session, opened)


def _route(uow, intake: IntakeRecordedV2, consents: ConsentBook,
           now: datetime) -> list[Referral]:
    share = _share(intake)
    person_id = _text(intake.person_id)
    consents.record(person_id, share["consents"])
    referrals = open_referrals(
        intake_id=intake.intake_id, intake_reference=intake.reference,
        needs=[Need(n.code, n.for_member) for n in intake.needs], facts=facts_from(share),
        rules=_once(uow, repository.rules), by=SYSTEM, now=now,
        consents=consents.in_force(person_id, [c.consent_id for c in intake.consents]),
        legal_bases=_once(uow, repository.legal_bases), person_id=person_id, share=share,
        names_members=NAMES_MEMBERS)
    for referral in referrals:
        _plan(uow, referral, now)
    return referrals


def _text(value: uuid.UUID | None) -> str | None:
    """An id as the tables keep it."""
    return None if value is None else str(value)


def _publish(uow, referral: Referral) -> None:
    """Stage what the referral announced, with its change."""
    for event in referral.events:
        uow.publish(event)
    referral.events.clear()


def _load(uow, referral_id: str) -> Referral:
    referral = repository.get(uow.session, referral_id, for_update=True, history=False)
    if referral is None:
        # The referral row commits before its events leave, so this is not an ordering race.
        raise LookupError(f"no referral {referral_id}")
    return referral


def record_case_opened(envelope: Envelope, uow) -> None:
    """The partner has a case for the referral: store its reference, status 'received'."""
    record_cases_opened([envelope], uow)


def record_cases_opened(envelopes: Sequence[Envelope], uow) -> None:
    """record_case_opened for a batch, in delivery order (batch.py: the referrals locked
    and read, then written, together)."""
    events: list[tuple[Envelope, PartnerCaseOpenedV1]] = [(e, typed(e)) for e in envelopes]
    batch = ReferralBatch.locking(uow.session, [str(o.referral_id) for _, o in events])
    for envelope, opened in events:
        uow.caused_by(envelope)
        referral = batch.get(str(opened.referral_id))
        referral.record_partner_case(opened.partner_case_ref, by=f"partner:{opened.partner}",
                                     now=envelope.time, appointment=opened.appointment)
        _plan(uow, referral, envelope.time)
        batch.changed(referral)
        _publish(uow, referral)
        _release_dependents(uow, batch, referral, envelope.time)
    batch.write()


def apply_partner_report(envelope: Envelope, uow) -> None:
    """A partner's later answer (accepted, rejected, completed...) or a final delivery failure."""
    apply_partner_reports([envelope], uow)


def apply_partner_reports(envelopes: Sequence[Envelope], uow) -> None:
    """apply_partner_report for a batch, in delivery order (as record_cases_opened)."""
    reports: list[tuple[Envelope, PartnerCaseStatusReportedV1 | PartnerCaseFailedV1]] = [
        (e, typed(e)) for e in envelopes]
    batch = ReferralBatch.locking(uow.session, [str(r.referral_id) for _, r in reports])
    for envelope, report in reports:
        uow.caused_by(envelope)
        with correlation_scope(envelope.correlationid):
            _apply_report(uow, batch, report, envelope.time)
    batch.write()


def _apply_report(uow, batch: ReferralBatch,
                  report: PartnerCaseStatusReportedV1 | PartnerCaseFailedV1,
                  now: datetime) -> None:
    referral = batch.get(str(report.referral_id))
    if isinstance(report, PartnerCaseFailedV1):
        new, case_ref, outcome = ReferralStatus.FAILED, None, None
        actor, code, note = Actor.SYSTEM, Reason.PARTNER_REFUSED_REQUEST, report.reason
    else:
        new, case_ref, actor = report.status, report.partner_case_ref, Actor.PARTNER
        code, note = coded(new, report.reason)
        outcome = _outcome(report.outcome) if new == ReferralStatus.COMPLETED else None
    if new == referral.status:
        return
    known_ref = referral.partner_case_ref
    if case_ref and not referral.partner_case_ref:
        referral.partner_case_ref = case_ref
    try:
        referral.change_status(new, by=f"partner:{report.partner}", reason=code, note=note,
                               outcome=outcome, actor=actor, now=now)
    except TransitionNotAllowed as exc:
        # Reports can overtake each other through retries; a stale one changes nothing (the
        # batch's later events see the referral as it was).
        referral.partner_case_ref = known_ref
        # the partner adapter took it, the referral refuses it: partner and staff now see
        # different statuses, which is an operator's alert (LotsePartnerAnswersRefused)
        metrics.PARTNER_ANSWERS_REFUSED.labels(report.partner, "referral").inc()
        log.warning("partner report refused by the referral lifecycle",
                    extra={"referral_id": str(report.referral_id), "reason": str(exc)})
        return
    if referral.status == ReferralStatus.REJECTED:
        _reroute(uow, batch, referral, now)
    _plan(uow, referral, now)
    batch.changed(referral)
    _publish(uow, referral)
    _release_dependents(uow, batch, referral, now)


def _outcome(given: str | None) -> Outcome:
    """A partner's coded outcome of a completion; none, or one Lotse does not know, closes
    the case."""
    return Outcome(given) if given in OUTCOMES else Outcome.CASE_CLOSED


REACHED_PARTNER = frozenset({ReferralStatus.RECEIVED, ReferralStatus.ACCEPTED,
                             ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED})


def _prerequisite_met(uow, referral: Referral) -> bool:
    if not referral.waits_for:
        return True
    return any(r.need == referral.waits_for and r.status in REACHED_PARTNER
               for r in repository.find(uow.session, str(referral.intake_id)))


def _release_dependents(uow, batch: ReferralBatch, referral: Referral,
                        now: datetime) -> None:
    """Referrals waiting for this one's need may leave once it reached its partner."""
    if referral.status not in REACHED_PARTNER:
        return
    for waiting in batch.waiting_for(referral):
        basis = sharing_basis_now(uow, waiting.partner, waiting.person_id, waiting.share,
                                  batch.consents)
        if waiting.prerequisite_met(referral.need, basis, by=SYSTEM, now=now):
            _plan(uow, waiting, now)
            batch.changed(waiting)
            _publish(uow, waiting)
        elif waiting.reason == Reason.CONSENT_MISSING:  # its consent is gone: waits for one
            batch.changed(waiting)


def _reroute(uow, batch: ReferralBatch, referral: Referral, now: datetime) -> None:
    """After a rejection, the next eligible partner service gets the need; with none left the
    rejected referral stays in the staff work queue."""
    if not referral.share:
        return
    route = told_whom(route_for_household(referral.need, facts_from(referral.share),
                                          _once(uow, repository.rules), now.date(),
                                          exclude=batch.tried_for_need(referral),
                                          for_member=referral.for_member), NAMES_MEMBERS)
    if not isinstance(route, Route):
        return
    _open_follow_up(uow, referral, route, by=SYSTEM, now=now, batch=batch)


def _open_follow_up(uow, referral: Referral, route, *, by: str, now: datetime,
                    batch: ReferralBatch | None = None) -> Referral:
    """The referral taking over from `referral` (inserted now, or with the batch's)."""
    basis = sharing_basis_now(uow, route.partner, referral.person_id, referral.share,
                              batch.consents if batch else None)
    successor = follow_up(referral, route, basis, by=by, now=now)
    _plan(uow, successor, now)
    if batch is None:
        repository.add(uow.session, successor)
    else:
        batch.add(successor)
    _publish(uow, successor)
    return successor


class ReferralActionError(Exception):
    """A staff action that cannot be done; `field` names the input to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _no_consent(partner: str) -> ReferralActionError:
    return ReferralActionError("partner", f"no consent in force allows sharing with {partner};"
                                          " record one on the person page first")


def cancel_referral(referral_id: str, staff: str, reason: str, note: str | None, uow) -> None:
    """Staff cancel a referral; the partner adapter tells the partner (status_changed)."""
    with uow:
        referral = _load(uow, referral_id)
        before = len(referral.history)
        try:
            referral.change_status(ReferralStatus.CANCELLED, by=staff, reason=reason,
                                   note=note, actor=Actor.STAFF, now=uow.clock())
        except TransitionNotAllowed as exc:
            raise ReferralActionError("reason", str(exc)) from None
        repository.save(uow.session, referral, before)
        _publish(uow, referral)
        uow.commit()


def reassign_referral(referral_id: str, partner: str, service: str, staff: str,
                      note: str | None, uow) -> str:
    """A manual referral of the same need to any partner, if a consent in force now (or the
    partner's legal basis) allows it; the old referral hands over and leaves the work queue.
    Without one nothing changes (422 naming the partner)."""
    with uow:
        referral = _load(uow, referral_id)
        if referral.superseded_by:
            raise ReferralActionError("referral", "this need was already taken over by "
                                                  f"referral {referral.superseded_by}")
        if partner not in repository.legal_bases(uow.session):
            raise ReferralActionError("partner", f"unknown partner {partner}")
        _check_offered(partner, service)
        if not referral.share:
            raise ReferralActionError("referral", "this referral has no data to pass on")
        if sharing_basis_now(uow, partner, referral.person_id, referral.share) is None:
            raise _no_consent(partner)
        now = uow.clock()
        before = len(referral.history)
        if referral.status not in TERMINAL:
            referral.change_status(ReferralStatus.CANCELLED, by=staff,
                                   reason=Reason.SUPERSEDED, note=note, actor=Actor.STAFF,
                                   now=now)
        route = Route(partner, service, "manual",
                      f"{service.upper()}: referred by hand by {staff}"
                      + (f" ({note})" if note else ""))
        successor = _open_follow_up(uow, referral, route, by=staff, now=now)
        repository.save(uow.session, referral, before)
        _publish(uow, referral)
        uow.commit()
    return str(successor.id)


def follow_consents(envelope: Envelope, uow) -> None:
    """A consent given lets waiting referrals leave; a withdrawn one cancels those relying
    on it (cancelling the partner's case itself is the partner adapter's later work)."""
    consent: ConsentGivenV1 | ConsentWithdrawnV1 = typed(envelope)
    consent_id, person_id = str(consent.consent_id), str(consent.person_id)
    if isinstance(consent, ConsentWithdrawnV1):
        by = f"consent:{consent.withdrawn_by or 'given'}"
        repository.record_consent_withdrawal(uow.session, consent_id, person_id,
                                             consent.partner, consent.withdrawn_at)
        affected = [r for r in repository.relying_on_consent(uow.session, consent_id)
                    if r.stop_sharing(by=by, now=envelope.time)]
    else:
        by = "consent:given"
        repository.record_consents(uow.session, person_id, [consent.data()])
        if repository.consent_withdrawn(uow.session, consent_id):
            return  # its withdrawal overtook it: nothing may leave on its strength
        basis = SharingBasis(consent_id=consent_id)
        affected = []
        for r in repository.waiting_for_consent(uow.session, person_id, consent.partner):
            if r.resume_with(basis, by=by, now=envelope.time,
                             prerequisite_met=_prerequisite_met(uow, r)):
                affected.append(r)
            else:  # the consent is recorded; it now waits for its prerequisite only
                repository.save(uow.session, r, len(r.history))
    for referral in affected:
        _plan(uow, referral, envelope.time)
        repository.save(uow.session, referral, len(referral.history) - 1)
        _publish(uow, referral)


def sweep_deadlines(uow_factory,
                    now: Callable[[], datetime]) -> dict[DeadlineOutcome, int]:
    """Expire, flag overdue and remind, one referral per transaction (timers live in the
    database, so a restarted scheduler simply sweeps again). Only referrals whose clock may
    call for action are read, so a sweep costs what is due, not every running clock."""
    counts: dict[DeadlineOutcome, int] = {}
    with uow_factory() as uow:
        policies = repository.deadline_policies(uow.session)
        remind = max(p.remind_days_before for p in (*policies.values(), DEFAULT_POLICY))
        at = now()
        ids = repository.with_deadline_due(uow.session, at,
                                           CALENDAR.reminders_from(at, remind))
    for referral_id in ids:
        with uow_factory() as uow:
            referral = repository.get(uow.session, referral_id, for_update=True,
                                      history=False)
            if referral is None:
                continue
            before = len(referral.history)
            policy = policies.get((referral.partner, referral.service)) or DEFAULT_POLICY
            happened = referral.check_deadlines(policy, CALENDAR, now())
            if happened:
                repository.save(uow.session, referral, before)
                _publish(uow, referral)
                uow.commit()
                counts[happened] = counts.get(happened, 0) + 1
    return counts


def _check_offered(partner: str, service: str) -> None:
    """A referral by hand names a service its partner offers (the partner directory)."""
    refused = unoffered_service(partner, service, services_by_partner())
    if refused:
        raise ReferralActionError("service", refused)


def refer_by_hand(intake_id: str, need: str, partner: str, service: str, staff: str,
                  note: str | None, uow, course_id: str | None = None) -> str:
    """A new referral staff make by hand for an intake (any need, any partner), if a consent
    in force now (or the partner's legal basis) allows sharing with that partner. With a
    `course_id` it is a place request in that course (courses_store.request_place)."""
    with uow:
        known = repository.find(uow.session, intake_id)
        if not known or not known[0].share:
            raise ReferralActionError("intake_id", "no routed referral of this intake yet")
        bases = repository.legal_bases(uow.session)
        if partner not in bases:
            raise ReferralActionError("partner", f"unknown partner {partner}")
        _check_offered(partner, service)
        template = known[0]
        basis = sharing_basis_now(uow, partner, template.person_id, template.share)
        if basis is None:
            raise _no_consent(partner)
        now = uow.clock()
        route = Route(partner, service, "manual", f"{service.upper()}: referred by hand by "
                                                  f"{staff}" + (f" ({note})" if note else ""))
        referral = Referral.open(intake_id=template.intake_id,
                                 intake_reference=template.intake_reference, need=need,
                                 route=route, by=staff, now=now, basis=basis,
                                 person_id=template.person_id, share=template.share)
        referral.course_id = course_id
        _plan(uow, referral, now)
        repository.add(uow.session, referral)
        _publish(uow, referral)
        uow.commit()
    return str(referral.id)
