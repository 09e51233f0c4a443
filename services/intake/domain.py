"""The intake of a consultation: plain domain code, no Flask, no SQL, no bus."""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Sequence


class IntakeError(Exception):
    """A rule broken by the input; `field` names the input field staff must fix."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class ConsentMissingError(IntakeError):
    pass


@dataclass(frozen=True)
class Person:
    given_name: str
    family_name: str
    birth_date: date
    nationality: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Consent:
    share_with_partners: bool
    method: str
    language: str


@dataclass
class Intake:
    id: uuid.UUID
    reference: str
    person: Person
    residence_status: str
    site: str
    needs: tuple[str, ...]
    consent: Consent
    recorded_by: str
    recorded_at: datetime
    events: list[dict] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def record(cls, *, person: Person, residence_status: str, site: str, needs: Sequence[str],
               consent: Consent, recorded_by: str, now: datetime) -> "Intake":
        """Record a consultation's intake; referrals follow only with the person's consent."""
        if person.birth_date > now.date():
            raise IntakeError("person.birth_date", "lies in the future")
        if len(set(needs)) != len(needs):
            raise IntakeError("needs", "lists a need twice")
        if needs and not consent.share_with_partners:
            raise ConsentMissingError(
                "consent.share_with_partners",
                "referring needs to partners requires the person's consent to share their data")
        intake = cls(id=uuid.uuid4(), reference=new_reference(now), person=person,
                     residence_status=residence_status, site=site, needs=tuple(needs),
                     consent=consent, recorded_by=recorded_by, recorded_at=now)
        intake.events.append({"type": "intake.recorded", "payload": intake.as_event()})
        return intake

    def as_event(self) -> dict:
        p = self.person
        return {
            "intake_id": self.id, "reference": self.reference, "recorded_at": self.recorded_at,
            "recorded_by": self.recorded_by, "site": self.site,
            "person": {"given_name": p.given_name, "family_name": p.family_name,
                       "birth_date": p.birth_date, "nationality": p.nationality,
                       "languages": list(p.languages)},
            "residence_status": self.residence_status, "needs": list(self.needs),
            "consent": {"share_with_partners": self.consent.share_with_partners,
                        "method": self.consent.method, "language": self.consent.language},
        }


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
    status: str
    reason: str | None
    partner_case_ref: str | None
    version: int
    updated_at: datetime


def newer(current: ReferralView | None, incoming: ReferralView) -> bool:
    """Events may arrive out of order (retries); only a higher referral version wins."""
    return current is None or incoming.version > current.version
