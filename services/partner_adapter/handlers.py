"""Partner adapter use cases: remember a requested case, open it at the partner, take answers."""
from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable, Mapping, Sequence

from services.partner_adapter import case_requests, erasure, notices, repository
from services.partner_adapter.domain import (CaseStatus, Disclosure, PartnerCase,
                                             answer_refused, backoff, holds_person)
from services.partner_adapter.outcomes import (AnswerOutcome, DeliveryOutcome, ReadOutcome,
                                               SendOutcome)
from services.partner_adapter.partners.base import (PartnerAnswerLost, PartnerGateway,
                                                    PartnerRefused, PartnerUnavailable, Receipt)
from services.partner_adapter.guards import PartnerGuards
from shared import metrics
from shared.clock import utcnow
from shared.events.envelope import Envelope
from shared.events.model import ReferralReminderDueV1, ReferralStatusChangedV1, typed
from shared.events.vocabulary import PARTNER_REPORTED, NoticeKind, ReferralStatus
from shared.partners import DIRECTORY, PartnerConfig
from shared.logging import current_correlation_id

log = logging.getLogger(__name__)


def request_partner_case(envelope: Envelope, uow,
                         directory: Mapping[str, PartnerConfig] = DIRECTORY) -> None:
    """Record that the partner owes us a case for this referral (at most one per referral),
    keeping only what the partner's allow-list names: a batch of one (case_requests.py, the
    batch handler; this one serves a failed batch retried message by message)."""
    case_requests.request_partner_cases([envelope], uow, directory)


def _publish(uow, case: PartnerCase) -> None:
    """Stage what the case announced, with its change."""
    # each case continues its own flow: one unit of work may record a batch of cases
    uow.continues(*(case.flow or (current_correlation_id(), None)))
    for event in case.events:
        uow.publish(event)
    case.events.clear()


def _deliver(case: PartnerCase, gateway: PartnerGateway | None) -> tuple[Receipt, dict]:
    """The partner's receipt and what it received; a request whose answer was lost is
    looked up first, so a retry never opens a second case."""
    if gateway is None:  # no system: the partner takes the referral over in the portal
        return Receipt(f"HO-{str(case.id)[:8].upper()}"), case.request
    payload = gateway.payload(case.request)
    if case.answer_lost:
        found = gateway.find_case(str(case.referral_id))
        if found:
            return found, payload
    return gateway.open_case(case.request, case.idempotency_key), payload


def _defer(case_id: str, uow_factory: Callable, until: datetime,
           why: str) -> DeliveryOutcome:
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
        if case is None or case.status != CaseStatus.PENDING:
            return DeliveryOutcome.NOT_PENDING
        case.deferred(until, why, uow.clock())
        repository.save(uow.session, case)
        uow.commit()
    return DeliveryOutcome.DEFERRED


@dataclass(frozen=True)
class _Call:
    """How one attempt went (a partner call, or none if deferred), recorded afterwards
    (see open_partner_cases)."""

    sent: PartnerCase
    outcome: DeliveryOutcome  # opened | retry | refused | deferred (not called)
    receipt: Receipt | None = None
    payload: dict | None = None
    error: str = ""  # the partner's error, or why the call was deferred
    lost: bool = False  # the partner may hold the case: look it up before the next attempt
    until: datetime | None = None  # deferred until then (circuit open, rate limit)


def open_partner_case(case_id: str, uow_factory: Callable,
                      gateways: Mapping[str, PartnerGateway],
                      directory: Mapping[str, PartnerConfig] = DIRECTORY,
                      guards: PartnerGuards | None = None,
                      clock: Callable[[], datetime] = utcnow,
                      poll_seconds: float | None = None) -> DeliveryOutcome:
    """Call the partner for one pending case, outside any DB transaction, then record it:
    opened (with what the partner received), retry later, or failed for good."""
    return open_partner_cases([case_id], uow_factory, gateways, directory, guards, clock,
                              poll_seconds)[case_id]


def open_partner_cases(case_ids: Sequence[str], uow_factory: Callable,
                       gateways: Mapping[str, PartnerGateway],
                       directory: Mapping[str, PartnerConfig] = DIRECTORY,
                       guards: PartnerGuards | None = None,
                       clock: Callable[[], datetime] = utcnow,
                       poll_seconds: float | None = None, pool: Executor | None = None,
                       lease_until: datetime | None = None) -> dict[str, DeliveryOutcome]:
    """Open a batch of pending cases: read them and the withdrawals of their consents in one
    transaction (two statements), call each partner outside any transaction (on `pool`'s
    threads, else one after another), the consent checked again right before each call (one
    statement), and record each answer as soon as its call ends, together with the answers
    that ended meanwhile (one transaction per group, a constant number of statements: see
    _record_calls): no answer waits for the batch's slowest call.

    With `lease_until` (when the batch's leases end), a call starts only if it ends, however
    long it takes (longest_call), RECORDING_SECONDS before then, so no call outlasts its
    lease and another opener never calls for a case whose call is under way. A case whose
    call could not start in time is "later": its lease is given up at once, so the next
    round takes it, without using an attempt. Returns each case's outcome; a case whose call
    failed unexpectedly ("error") stays leased and is tried again once its lease lapses,
    with the same idempotency key."""
    with uow_factory() as uow:
        cases = repository.get_many(uow.session, case_ids)
        withdrawn = notices.withdrawn_bases(uow.session, [c.basis for c in cases.values()])
        withdrawn_now = notices.consent_check(uow.session.get_bind())
    due = [c for c in cases.values() if c.status == CaseStatus.PENDING]

    def attempt(case: PartnerCase) -> _Call | DeliveryOutcome:
        try:
            start_by = None if lease_until is None else (
                lease_until - longest_call(directory[case.partner])
                - timedelta(seconds=RECORDING_SECONDS))
            if start_by is not None and clock() > start_by:
                return DeliveryOutcome.LATER
            # the consent checked again right before the call, not only when the round
            # read the withdrawals: a round's calls may start most of a lease after that
            return _attempt(case, uow_factory, gateways, directory, guards, clock,
                            withdrawn=case.basis in withdrawn
                            or withdrawn_now(case.basis), start_by=start_by)
        except Exception:  # the lease lapses and the case is tried again
            log.exception("opening partner case failed", extra={"case_id": str(case.id)})
            return DeliveryOutcome.ERROR

    results = {case_id: DeliveryOutcome.NOT_PENDING for case_id in case_ids}
    running = {(pool.submit if pool else _done)(attempt, case): case for case in due}
    while running:
        ended, _ = wait(running, return_when=FIRST_COMPLETED)
        calls, later = [], []
        for future in ended:
            case, answer = running.pop(future), future.result()
            if isinstance(answer, _Call):
                calls.append(answer)
            else:
                results[str(case.id)] = answer
                if answer == DeliveryOutcome.LATER:
                    later.append(str(case.id))
        results.update(_record_calls(calls, uow_factory, directory, poll_seconds))
        if later:
            _give_up_leases(later, uow_factory, lease_until)
    return results


def _done(fn: Callable, *args) -> Future:
    """`fn(*args)` called now, as an ended future (a batch opened without a pool)."""
    future: Future = Future()
    future.set_result(fn(*args))
    return future


# The most HTTP requests one attempt at opening a case makes, by adapter kind (partners/):
# the lookup after a lost answer, then open_case's own requests; a secure submission reads
# the destination and its key (every few minutes), then announces and submits the case.
_OPEN_REQUESTS = {"secure_submission": 4}
# What a lease keeps after the longest call: enough to record the answer.
RECORDING_SECONDS = 5.0


def longest_call(config: PartnerConfig) -> timedelta:
    """The longest one attempt at opening a case at this partner may take: each of its HTTP
    requests waiting out both the partner's timeouts (portal partners: no call). Requests'
    read timeout bounds each wait for data, not a whole answer: a partner that trickles its
    answer could take longer, so its calls are not bounded more tightly than that."""
    if not config.has_system:
        return timedelta(0)
    requests = 1 + _OPEN_REQUESTS.get(config.kind, 1)
    return timedelta(seconds=requests * (config.connect_timeout + config.read_timeout))


def _give_up_leases(case_ids: list[str], uow_factory: Callable,
                    held_until: datetime) -> None:
    """Cases whose calls could not start in time go to the next round now, not once their
    leases lapse (unless another opener has leased them since)."""
    try:
        with uow_factory() as uow:
            repository.give_up_leases(uow.session, case_ids, held_until)
            uow.commit()
    except Exception:  # harmless: the leases lapse on their own
        log.warning("giving up the leases of cases not called in time failed",
                    exc_info=True)


def _attempt(case: PartnerCase, uow_factory: Callable, gateways: Mapping[str, PartnerGateway],
             directory: Mapping[str, PartnerConfig], guards: PartnerGuards | None,
             clock: Callable[[], datetime], withdrawn: bool,
             start_by: datetime | None = None) -> _Call | DeliveryOutcome:
    """Call the partner for one pending case, unless it must not be sent now or, after the
    reads before it (which may wait for a connection), could no longer end in its lease."""
    config, gateway = directory[case.partner], gateways.get(case.partner)
    if case.erased:  # erased after an attempt whose answer was lost: only ask, never send
        return _look_up_erased(case, uow_factory, gateway, config, clock)
    if withdrawn:  # checked again right before sending: nothing leaves on a withdrawn consent
        return _withhold(case, uow_factory, gateway, config, clock)
    if start_by is not None and clock() > start_by:
        return DeliveryOutcome.LATER
    wait = guards.before(case.partner, clock()) if guards and gateway else None
    if wait is not None:  # recorded with the answers that end meanwhile
        until, why = wait
        return _Call(case, DeliveryOutcome.DEFERRED, error=why, until=until)
    lost, outcome, error, started = False, DeliveryOutcome.RETRY, "", time.perf_counter()
    receipt = payload = None
    try:
        receipt, payload = _deliver(case, gateway)
        outcome = DeliveryOutcome.OPENED
    except PartnerUnavailable as exc:
        error, lost = str(exc), isinstance(exc, PartnerAnswerLost)
    except PartnerRefused as exc:
        outcome, error = DeliveryOutcome.REFUSED, str(exc)
    finally:  # also after a bug in a gateway: a half-open breaker must not stay on trial
        if guards and gateway:
            guards.after(case.partner, outcome != DeliveryOutcome.RETRY, clock())
        if gateway is not None:  # portal partners: no call was made
            metrics.observe_partner_call(case.partner, outcome, time.perf_counter() - started)
    return _Call(case, outcome, receipt, payload, error, lost)


def _record_calls(calls: list[_Call], uow_factory: Callable,
                  directory: Mapping[str, PartnerConfig],
                  poll_seconds: float | None) -> dict[str, DeliveryOutcome]:
    """Record the partners' answers in one transaction, in a constant number of statements
    however many: the cases locked (in id order, one statement), then, once every answer is
    applied to its case, one executemany update of the cases (ending their leases), one
    insert of what the partners received, one read of the withdrawals of the delivered
    cases' consents (after the lock: see notices._lock_cases) and one outbox insert at the
    commit. Rare answers (a case cancelled or erased during its call) write their own rows.
    Should that fail, each answer is recorded on its own, so one case cannot hold back the
    others; one that cannot be recorded is "error"."""
    if not calls:
        return {}
    try:
        with uow_factory() as uow:
            cases = repository.get_many(uow.session, [str(c.sent.id) for c in calls],
                                        lock=True)
            answers = _Answers()
            results = {str(c.sent.id): _record(uow, cases.get(str(c.sent.id)), c,
                                               directory[c.sent.partner], poll_seconds,
                                               answers)
                       for c in calls}
            answers.write(uow)
            uow.commit()
        return results
    except Exception:
        if len(calls) == 1:  # the lease lapses; the retry finds the partner's case by its key
            log.exception("recording the partner's answer failed",
                          extra={"case_id": str(calls[0].sent.id)})
            return {str(calls[0].sent.id): DeliveryOutcome.ERROR}
        log.warning("recording a batch of partner answers failed; one by one now",
                    exc_info=True)
    results = {}
    for call in calls:
        results.update(_record_calls([call], uow_factory, directory, poll_seconds))
    return results


@dataclass
class _Answers:
    """What the answers recorded together write (_record_calls), in the calls' order."""

    changed: list[PartnerCase] = field(default_factory=list)
    disclosed: list[Disclosure] = field(default_factory=list)
    delivered: list[PartnerCase] = field(default_factory=list)

    def write(self, uow) -> None:
        repository.save_many(uow.session, self.changed)
        repository.add_disclosures(uow.session, self.disclosed)
        # a withdrawal that arrived during the calls: read after the cases are saved
        notices.after_deliveries(uow, self.delivered)
        for case in self.changed:
            _publish(uow, case)


def _record(uow, case: PartnerCase | None, call: _Call, config: PartnerConfig,
            poll_seconds: float | None, answers: _Answers) -> DeliveryOutcome:
    """Apply one partner's answer to its locked case; what to write goes to `answers` (the
    caller writes and commits)."""
    outcome = call.outcome
    if case is None:
        return DeliveryOutcome.NOT_PENDING
    if outcome == DeliveryOutcome.OPENED and (case.status == CaseStatus.CANCELLED
                                              or case.erased):
        return _opened_after_cancel(uow, case, call.sent, call.receipt, call.payload, config)
    if case.status != CaseStatus.PENDING:
        return DeliveryOutcome.NOT_PENDING  # a callback recorded the opening meanwhile
    if outcome == DeliveryOutcome.OPENED:
        case.opened(call.receipt.reference, uow.clock(), appointment=call.receipt.appointment)
        if config.inbound == "poll":
            case.poll_after(poll_seconds or config.poll_seconds, uow.clock())
        answers.disclosed.append(Disclosure.of(case, config.channel, config.allow_list,
                                               call.payload, uow.clock()))
        answers.delivered.append(case)
    elif outcome == DeliveryOutcome.DEFERRED:  # not called: no attempt used up
        case.deferred(call.until, call.error, uow.clock())
    elif outcome == DeliveryOutcome.RETRY:
        log.warning("partner unavailable, will retry",
                    extra={"partner": case.partner, "case_id": str(case.id),
                           "reason": call.error, "answer_lost": call.lost})
        case.attempt_failed(call.error, uow.clock(), answer_lost=call.lost,
                            max_attempts=config.max_attempts)
        if case.status == CaseStatus.FAILED:
            outcome = DeliveryOutcome.FAILED
    else:
        log.error("partner refused case", extra={"partner": case.partner,
                                                 "case_id": str(case.id),
                                                 "reason": call.error})
        case.refused(call.error, uow.clock())
    if case.erased:  # nothing about an erased person is published again
        case.events.clear()
    answers.changed.append(case)
    return outcome


def _held_by_partner(case: PartnerCase, gateway: PartnerGateway | None) -> Receipt | None:
    """The partner's receipt if an earlier attempt reached it unnoticed (portal partners hold
    nothing Lotse did not record); PartnerUnavailable/PartnerRefused when it cannot tell."""
    return gateway.find_case(str(case.referral_id)) if gateway is not None else None


def _look_up_erased(case: PartnerCase, uow_factory: Callable, gateway: PartnerGateway | None,
                    config: PartnerConfig, clock: Callable[[], datetime]) -> DeliveryOutcome:
    """The person was erased while an attempt's answer was lost: the partner is asked
    whether it holds the case. If it does, the delivery is recorded and the partner gets
    the erasure notice; if not, the case ends cancelled. Nothing is sent either way."""
    try:
        found = _held_by_partner(case, gateway)
    except (PartnerUnavailable, PartnerRefused) as exc:  # ask again later
        return _defer(str(case.id), uow_factory, clock() + backoff(3),
                      f"erased; asking the partner whether it holds the case failed: {exc}")
    sent = case
    with uow_factory() as uow:
        case = repository.get(uow.session, str(case.id))
        if found is not None and case.partner_case_ref is None:
            outcome = _opened_after_cancel(uow, case, sent, found, {}, config)
            uow.commit()
            return outcome
        if case.status != CaseStatus.PENDING:
            return DeliveryOutcome.NOT_PENDING
        case.cancel_requested(uow.clock())
        case.last_error = "erased: the partner holds no case"
        repository.save(uow.session, case)
        uow.commit()
    return DeliveryOutcome.WITHHELD


def _withhold(case: PartnerCase, uow_factory: Callable, gateway: PartnerGateway | None,
              config: PartnerConfig, clock: Callable[[], datetime]) -> DeliveryOutcome:
    """The consent the case relies on was withdrawn before it was delivered: nothing is sent
    and the case ends cancelled (the referral service cancels the referral itself on the same
    withdrawal, so no event of ours races with it). An earlier attempt may have reached the
    partner unnoticed (an answer lost, a crash after sending): the partner is asked first,
    and a case it holds is recorded as delivered and gets its withdrawal notice."""
    try:
        found = _held_by_partner(case, gateway)
    except (PartnerUnavailable, PartnerRefused) as exc:  # ask again later
        return _defer(str(case.id), uow_factory, clock() + backoff(3),
                      f"consent withdrawn; asking the partner whether it holds the case "
                      f"failed: {exc}")
    sent = case
    with uow_factory() as uow:
        case = repository.get(uow.session, str(case.id))
        if case.status != CaseStatus.PENDING:
            if found is not None and case.status == CaseStatus.CANCELLED:
                outcome = _opened_after_cancel(uow, case, sent, found,
                                               gateway.payload(sent.request), config)
                uow.commit()
                return outcome
            return DeliveryOutcome.NOT_PENDING
        if found is None:
            case.cancel_requested(uow.clock())
            case.last_error = "consent_withdrawn: nothing was sent to the partner"
            repository.save(uow.session, case)
            uow.commit()
            log.info("consent withdrawn before delivery; nothing sent",
                     extra={"partner": case.partner, "case_id": str(case.id)})
            return DeliveryOutcome.WITHHELD
        case.opened(found.reference, uow.clock(), appointment=found.appointment)
        repository.add_disclosure(uow.session, Disclosure.of(
            case, config.channel, config.allow_list, gateway.payload(case.request),
            uow.clock()))
        repository.save(uow.session, case)
        notices.after_delivery(uow, case)
        _publish(uow, case)
        uow.commit()
    return DeliveryOutcome.OPENED


def _opened_after_cancel(uow, case: PartnerCase, sent: PartnerCase, receipt: Receipt,
                        payload: dict, config: PartnerConfig) -> DeliveryOutcome:
    """The case was cancelled while the partner's call was under way (a withdrawn consent, a
    cancelled referral, an erasure) and the partner opened it anyway: it holds the data, so
    the delivery is recorded (reference, disclosure of what was `sent`) and the partner is
    told: an erasure notice if the person was erased meanwhile, otherwise the case is
    withdrawn like any open one (and a withdrawn consent's notice queued). The caller
    commits."""
    if case.partner_case_ref is not None or case.status not in (CaseStatus.CANCELLED,
                                                                  CaseStatus.PENDING):
        return DeliveryOutcome.NOT_PENDING
    erased_at = erasure.erased_referral_at(uow.session, str(case.referral_id))
    if case.status == CaseStatus.CANCELLED:
        case.opened_after_cancel(receipt.reference, uow.clock(),
                                 appointment=receipt.appointment)
    else:  # pending, scrubbed by an erasure (see erasure.erase_cases)
        case.opened(receipt.reference, uow.clock(), appointment=receipt.appointment)
    disclosure = Disclosure.of(sent, config.channel, config.allow_list, payload, uow.clock())
    if erased_at is not None or case.erased:  # the erasure scrubbed the case: keep it so
        case.cancel_due_at, case.appointment = None, None
        case.events.clear()  # nothing about an erased person is published again
        # what was sent is not known any more when only the scrubbed case was read: the
        # allow-list is what the partner may hold
        fields = disclosure.fields if holds_person(sent.request) else tuple(config.allow_list)
        disclosure = replace(disclosure, fields=fields, payload_sha256=erasure.ERASED_HASH)
    repository.add_disclosure(uow.session, disclosure)
    repository.save(uow.session, case)
    if erased_at is not None or case.erased:
        notices.queue_notices(uow, kind=NoticeKind.ERASURE, referral_ids=[str(case.referral_id)],
                              reason=erasure.REASON, now=erased_at or uow.clock())
    else:
        notices.after_delivery(uow, case)
        _publish(uow, case)
    log.warning("the partner holds a case cancelled or erased meanwhile; it is told",
                extra={"partner": case.partner, "case_id": str(case.id),
                       "erased": erased_at is not None})
    return DeliveryOutcome.OPENED


def record_partner_report(partner: str, report: dict, uow,
                          signature: str = "") -> AnswerOutcome:
    """Apply a signed status callback once; returns recorded, duplicate, replayed or
    unknown_case. The very same signed request seen again is a replay (refused); a partner
    re-sending an event signs it anew and gets `duplicate`."""
    subscriber = f"callback.{partner}"
    seen = f"callback-signature.{partner}"
    signed = hashlib.sha256(signature.encode()).hexdigest()
    with uow:
        if signature and uow.already_processed(seen, signed):
            return AnswerOutcome.REPLAYED
        if signature:
            uow.mark_processed(seen, signed)
        if uow.already_processed(subscriber, report["event_id"]):
            uow.commit()
            return AnswerOutcome.DUPLICATE
        case = repository.by_reference(uow.session, partner, report.get("case_reference"),
                                       report.get("client_reference"))
        if case is None:
            return AnswerOutcome.UNKNOWN_CASE
        _check_answer(case, report["status"], report.get("outcome"))
        uow.mark_processed(subscriber, report["event_id"])
        case.reported(report["status"], report.get("reason"), report["case_reference"],
                      uow.clock(), outcome=report.get("outcome"))
        repository.save(uow.session, case)
        _publish(uow, case)
        uow.commit()
    return AnswerOutcome.RECORDED


def poll_partner_case(case_id: str, uow_factory: Callable,
                      gateways: Mapping[str, PartnerGateway],
                      directory: Mapping[str, PartnerConfig] = DIRECTORY,
                      poll_seconds: float | None = None) -> ReadOutcome | AnswerOutcome:
    """Read where an open case stands at a partner without webhooks; a changed status is
    recorded exactly like a signed callback (once, then partner_case.status_reported)."""
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
    if case is None or case.next_poll_at is None or case.partner not in gateways:
        return ReadOutcome.NOTHING_DUE
    interval = poll_seconds or directory[case.partner].poll_seconds
    try:
        state = gateways[case.partner].case_status(case.partner_case_ref)
        error = None
    except (PartnerUnavailable, PartnerRefused) as exc:
        state, error = None, str(exc)
    result: ReadOutcome | AnswerOutcome = ReadOutcome.UNCHANGED
    if state and state["status"] in PARTNER_REPORTED and \
            state["status"] != case.partner_status:
        try:
            result = record_partner_report(case.partner, {
                "event_id": case.status_event_id(state["status"], state.get("changed_at")),
                "case_reference": case.partner_case_ref,
                "client_reference": str(case.referral_id), "status": state["status"],
                "reason": state.get("reason"), "outcome": state.get("outcome")}, uow_factory())
        except AnswerRefused:
            result = AnswerOutcome.REFUSED
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
        if error:
            log.warning("reading the partner's case status failed",
                        extra={"partner": case.partner, "case_id": case_id, "reason": error})
        case.poll_after(interval, uow.clock())
        repository.save(uow.session, case)
        uow.commit()
    return ReadOutcome.FAILED if error else result


def request_reminder(envelope: Envelope, uow) -> None:
    """A referral's deadline is near: the partner gets a reminder (sent by the case loop)."""
    due: ReferralReminderDueV1 = typed(envelope)
    case = repository.for_referral(uow.session, due.partner, str(due.referral_id))
    if case is not None and case.reminder_requested(uow.clock()):
        repository.save(uow.session, case)


def send_reminder(case_id: str, uow_factory: Callable,
                  gateways: Mapping[str, PartnerGateway]) -> SendOutcome:
    """Deliver one due reminder, outside any DB transaction, then record it."""
    return _tell_partner(
        case_id, uow_factory, lambda c: c.reminder_due_at,
        # partners without a case API see due dates in the portal: nothing to send
        lambda c: c.partner in gateways and gateways[c.partner].remind(c.partner_case_ref,
                                                                        c.reminder_key()),
        PartnerCase.reminder_sent, PartnerCase.reminder_failed)


def _tell_partner(case_id: str, uow_factory: Callable, due: Callable, send: Callable,
                  done: Callable, failed: Callable) -> SendOutcome:
    """Send one message about an open case to its partner; record success or retry later."""
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
    if case is None or due(case) is None:
        return SendOutcome.NOTHING_DUE
    try:
        send(case)
        error = None
    except (PartnerUnavailable, PartnerRefused) as exc:
        error = str(exc)
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
        if error is None:
            done(case, uow.clock())
        else:
            failed(case, error, uow.clock())
        repository.save(uow.session, case)
        uow.commit()
    return SendOutcome.SENT if error is None else SendOutcome.RETRY


def cancelled_in_lotse(envelope: Envelope) -> bool:
    """Is this status change a cancellation made in Lotse (by staff, a withdrawn consent or
    expiry) of a routed referral? Partners' own answers need no echo."""
    changed: ReferralStatusChangedV1 = typed(envelope)
    return changed.status == ReferralStatus.CANCELLED and bool(changed.partner) and \
        not changed.changed_by.startswith("partner:")


def follow_referral(envelope: Envelope, uow) -> None:
    """A referral cancelled in Lotse is withdrawn at the partner (cancelled_in_lotse)."""
    if not cancelled_in_lotse(envelope):
        return
    changed: ReferralStatusChangedV1 = typed(envelope)
    case = repository.for_referral(uow.session, changed.partner, str(changed.referral_id))
    if case is not None and case.cancel_requested(uow.clock()):
        repository.save(uow.session, case)


def send_cancellation(case_id: str, uow_factory: Callable,
                      gateways: Mapping[str, PartnerGateway]) -> SendOutcome:
    """Deliver one due cancellation, outside any DB transaction, then record it."""
    return _tell_partner(
        case_id, uow_factory, lambda c: c.cancel_due_at,
        lambda c: c.partner in gateways and gateways[c.partner].cancel(c.partner_case_ref,
                                                                        c.cancellation_key()),
        PartnerCase.cancellation_sent, PartnerCase.cancellation_failed)


class AnswerRefused(Exception):
    """A partner's answer the referral lifecycle does not allow after its last one; the
    message says why (the partner is told, nothing is recorded)."""


def _check_answer(case: PartnerCase, status: str, outcome: str | None) -> None:
    refused = answer_refused(case.partner_status, status, outcome)
    if refused:
        metrics.PARTNER_ANSWERS_REFUSED.labels(case.partner, "partner_adapter").inc()
        log.warning("partner answer refused by the referral lifecycle",
                    extra={"partner": case.partner, "case_id": str(case.id), "reason": refused})
        raise AnswerRefused(refused)


def record_portal_report(partner: str, case_id: str, status: str, reason: str | None,
                         outcome: str | None, uow) -> AnswerOutcome:
    """A partner without a case API answers in the partner portal (accepted, rejected ...).
    Returns recorded, not_found (unknown or another partner's case) or closed (withdrawn by
    Lotse, or already answered for good)."""
    with uow:
        case = repository.get(uow.session, case_id)
        if case is None or case.partner != partner or \
                case.status not in (CaseStatus.OPENED, CaseStatus.CANCELLED):
            return AnswerOutcome.NOT_FOUND
        if not case.answerable or notices.closes_case(uow.session, case_id):
            return AnswerOutcome.CLOSED
        _check_answer(case, status, outcome)
        case.reported(status, reason, case.partner_case_ref, uow.clock(), outcome=outcome)
        repository.save(uow.session, case)
        _publish(uow, case)
        uow.commit()
    return AnswerOutcome.RECORDED
