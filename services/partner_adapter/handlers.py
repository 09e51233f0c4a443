"""Partner adapter use cases: remember a requested case, open it at the partner, take answers."""
from __future__ import annotations

import logging
import uuid
from typing import Callable, Mapping

from services.partner_adapter import repository
from services.partner_adapter.domain import PartnerCase
from services.partner_adapter.partners.base import (PartnerGateway, PartnerRefused,
                                                    PartnerUnavailable)
from shared.events.envelope import Envelope

log = logging.getLogger(__name__)


def request_partner_case(envelope: Envelope, uow) -> None:
    """Record that the partner owes us a case for this referral (at most one per referral).

    No partner call happens here: the message is acked as soon as the pending case is
    committed, so a slow or down partner never holds a message unacked.
    """
    d = envelope.data
    if repository.for_referral(uow.session, d["partner"], d["referral_id"]):
        return
    request = {"referral_id": d["referral_id"], "need": d["need"], "service": d["service"],
               "residence_status": d["residence_status"], "person": d["person"],
               "intake_reference": d["intake_reference"]}
    repository.add(uow.session, PartnerCase.requested(
        referral_id=uuid.UUID(d["referral_id"]), partner=d["partner"], service=d["service"],
        request=request, now=uow.clock()))


def _emit(uow, case: PartnerCase) -> None:
    for event_type, payload in case.events:
        uow.emit(event_type, subject=f"partner_case/{case.id}", data=payload)
    case.events.clear()


def open_partner_case(case_id: str, uow_factory: Callable,
                      gateways: Mapping[str, PartnerGateway]) -> str:
    """Call the partner for one pending case, outside any DB transaction, then record it."""
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
    if case is None or case.status != "pending":
        return "not pending"
    try:
        if case.partner in gateways:
            case_ref = gateways[case.partner].open_case(case.request, case.idempotency_key)
        else:  # no case API: the partner takes the referral over in Lotse's partner portal
            case_ref = f"HO-{str(case.id)[:8].upper()}"
        outcome = "opened"
    except PartnerUnavailable as exc:
        case_ref, outcome, error = None, "retry", str(exc)
    except PartnerRefused as exc:
        case_ref, outcome, error = None, "refused", str(exc)
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
        if case.status != "pending":
            return "not pending"  # a callback recorded the opening meanwhile
        if outcome == "opened":
            case.opened(case_ref, uow.clock())
        elif outcome == "retry":
            log.warning("partner unavailable, will retry",
                        extra={"partner": case.partner, "case_id": case_id, "reason": error})
            case.attempt_failed(error, uow.clock())
        else:
            log.error("partner refused case", extra={"partner": case.partner,
                                                     "case_id": case_id, "reason": error})
            case.refused(error, uow.clock())
        repository.save(uow.session, case)
        _emit(uow, case)
        uow.commit()
    return outcome


def record_partner_report(partner: str, report: dict, uow) -> str:
    """Apply a signed status callback once; returns recorded, duplicate or unknown_case."""
    subscriber = f"callback.{partner}"
    with uow:
        if uow.already_processed(subscriber, report["event_id"]):
            return "duplicate"
        case = repository.by_reference(uow.session, partner, report.get("case_reference"),
                                       report.get("client_reference"))
        if case is None:
            return "unknown_case"
        uow.mark_processed(subscriber, report["event_id"])
        case.reported(report["status"], report.get("reason"), report["case_reference"],
                      uow.clock(), outcome=report.get("outcome"))
        repository.save(uow.session, case)
        _emit(uow, case)
        uow.commit()
    return "recorded"


def request_reminder(envelope: Envelope, uow) -> None:
    """A referral's deadline is near: the partner gets a reminder (sent by the case loop)."""
    d = envelope.data
    case = repository.for_referral(uow.session, d["partner"], d["referral_id"])
    if case is not None and case.reminder_requested(uow.clock()):
        repository.save(uow.session, case)


def send_reminder(case_id: str, uow_factory: Callable,
                  gateways: Mapping[str, PartnerGateway]) -> str:
    """Deliver one due reminder, outside any DB transaction, then record it."""
    return _tell_partner(
        case_id, uow_factory, lambda c: c.reminder_due_at,
        # partners without a case API see due dates in the portal: nothing to send
        lambda c: c.partner in gateways and gateways[c.partner].remind(c.partner_case_ref,
                                                                        c.reminder_key()),
        PartnerCase.reminder_sent, PartnerCase.reminder_failed)


def _tell_partner(case_id: str, uow_factory: Callable, due: Callable, send: Callable,
                  done: Callable, failed: Callable) -> str:
    """Send one message about an open case to its partner; record success or retry later."""
    with uow_factory() as uow:
        case = repository.get(uow.session, case_id)
    if case is None or due(case) is None:
        return "nothing due"
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
    return "sent" if error is None else "retry"


def follow_referral(envelope: Envelope, uow) -> None:
    """A referral cancelled in Lotse (by staff, a withdrawn consent or expiry) is withdrawn
    at the partner; partners' own answers need no echo."""
    d = envelope.data
    if d["status"] != "cancelled" or not d.get("partner") or \
            d["changed_by"].startswith("partner:"):
        return
    case = repository.for_referral(uow.session, d["partner"], d["referral_id"])
    if case is not None and case.cancel_requested(uow.clock()):
        repository.save(uow.session, case)


def send_cancellation(case_id: str, uow_factory: Callable,
                      gateways: Mapping[str, PartnerGateway]) -> str:
    """Deliver one due cancellation, outside any DB transaction, then record it."""
    return _tell_partner(
        case_id, uow_factory, lambda c: c.cancel_due_at,
        lambda c: c.partner in gateways and gateways[c.partner].cancel(c.partner_case_ref,
                                                                        c.cancellation_key()),
        PartnerCase.cancellation_sent, PartnerCase.cancellation_failed)


def record_portal_report(partner: str, case_id: str, status: str, reason: str | None,
                         outcome: str | None, uow) -> bool:
    """A partner without a case API answers in the partner portal (accepted, rejected ...)."""
    with uow:
        case = repository.get(uow.session, case_id)
        if case is None or case.partner != partner or case.status != "opened":
            return False
        case.reported(status, reason, case.partner_case_ref, uow.clock(), outcome=outcome)
        repository.save(uow.session, case)
        _emit(uow, case)
        uow.commit()
    return True
