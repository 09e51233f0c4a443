"""Intake use cases: each opens a unit of work and commits once."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from services.intake import repository
from services.intake.domain import Consent, Intake, Person, ReferralView, newer
from shared.events.envelope import Envelope


@dataclass(frozen=True)
class RecordIntake:
    person: Person
    residence_status: str
    site: str
    needs: tuple[str, ...]
    consent: Consent
    staff: str


def record_intake(cmd: RecordIntake, uow, now: Callable[[], datetime]) -> uuid.UUID:
    """Store a consultation's intake; its intake.recorded event leaves through the outbox."""
    with uow:
        intake = Intake.record(person=cmd.person, residence_status=cmd.residence_status,
                               site=cmd.site, needs=cmd.needs, consent=cmd.consent,
                               recorded_by=cmd.staff, now=now())
        repository.add_intake(uow.session, intake)
        for event in intake.events:
            uow.emit(event["type"], subject=f"intake/{intake.id}", data=event["payload"])
        uow.commit()
    return intake.id


def track_referral(envelope: Envelope, uow) -> None:
    """Keep the intake's view of its referrals current (status, partner, case reference)."""
    d = envelope.data
    incoming = ReferralView(
        referral_id=uuid.UUID(d["referral_id"]), intake_id=uuid.UUID(d["intake_id"]),
        need=d["need"], partner=d.get("partner"), service=d.get("service"), status=d["status"],
        reason=d.get("reason") or d.get("routing_reason"),
        partner_case_ref=d.get("partner_case_ref"), version=d["version"],
        updated_at=envelope.time)
    current = repository.get_referral_view(uow.session, str(incoming.referral_id))
    if newer(current, incoming):
        repository.save_referral_view(uow.session, incoming, exists=current is not None)
