"""Referral use cases, driven by intake and partner-case events."""
from __future__ import annotations

import logging
import uuid
from datetime import date

from services.referral import repository
from services.referral.domain import (PersonFacts, Referral, TransitionNotAllowed,
                                     open_referrals)
from shared.events.envelope import Envelope

log = logging.getLogger(__name__)
SYSTEM = "lotse-routing"


def open_referrals_for_intake(envelope: Envelope, uow) -> None:
    """One referral per need of a recorded intake, routed by the rule table."""
    d = envelope.data
    if repository.exists_for_intake(uow.session, d["intake_id"]):
        return  # the intake was already routed (a re-sent event with a new id)
    person = d["person"]
    facts = PersonFacts(date.fromisoformat(person["birth_date"]), person["nationality"],
                        d["residence_status"], tuple(person["languages"]))
    referrals = open_referrals(intake_id=uuid.UUID(d["intake_id"]),
                               intake_reference=d["reference"], needs=d["needs"], facts=facts,
                               rules=repository.rules(uow.session), by=SYSTEM,
                               now=envelope.time)
    for referral in referrals:
        repository.add(uow.session, referral)
        if referral.status == "requested":
            uow.emit("referral.requested", subject=f"referral/{referral.id}",
                     data=_requested(referral, d))
        _emit_pending(uow, referral)


def _requested(referral: Referral, intake: dict) -> dict:
    p = intake["person"]
    return {"referral_id": referral.id, "intake_id": referral.intake_id,
            "intake_reference": referral.intake_reference, "need": referral.need,
            "partner": referral.partner, "service": referral.service,
            "routing_reason": referral.routing_reason, "status": referral.status,
            "version": referral.version, "requested_at": referral.created_at,
            "residence_status": intake["residence_status"],
            "person": {"given_name": p["given_name"], "family_name": p["family_name"],
                       "birth_date": p["birth_date"], "nationality": p["nationality"],
                       "languages": p["languages"]},
            "consent_method": intake["consent"]["method"]}


def _emit_pending(uow, referral: Referral) -> None:
    for event_type, payload in referral.events:
        uow.emit(event_type, subject=f"referral/{referral.id}", data=payload)
    referral.events.clear()


def _load(uow, referral_id: str) -> Referral:
    referral = repository.get(uow.session, referral_id, for_update=True)
    if referral is None:
        # The referral row commits before its events leave, so this is not an ordering race.
        raise LookupError(f"no referral {referral_id}")
    return referral


def record_case_opened(envelope: Envelope, uow) -> None:
    """The partner has a case for the referral: store its reference, status 'received'."""
    d = envelope.data
    referral = _load(uow, d["referral_id"])
    before = len(referral.history)
    referral.record_partner_case(d["partner_case_ref"], by=f"partner:{d['partner']}",
                                 now=envelope.time)
    repository.save(uow.session, referral, before)
    _emit_pending(uow, referral)


def apply_partner_report(envelope: Envelope, uow) -> None:
    """A partner's later answer (accepted, rejected, completed...) or a final delivery failure."""
    d = envelope.data
    referral = _load(uow, d["referral_id"])
    before = len(referral.history)
    new = "failed" if envelope.type == "partner_case.failed" else d["status"]
    if new == referral.status:
        return
    if d.get("partner_case_ref") and not referral.partner_case_ref:
        referral.partner_case_ref = d["partner_case_ref"]
    try:
        referral.change_status(new, by=f"partner:{d['partner']}", reason=d.get("reason"),
                               now=envelope.time)
    except TransitionNotAllowed as exc:
        # Reports can overtake each other through retries; a stale one changes nothing.
        log.info("ignoring stale partner report", extra={"referral_id": d["referral_id"],
                                                         "reason": str(exc)})
        return
    repository.save(uow.session, referral, before)
    _emit_pending(uow, referral)
