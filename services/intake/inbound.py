"""Inbound referrals (issue 22, item 5): a partner refers a person to the centre.

Plain domain code (no Flask, no SQLAlchemy). The sender (a partner, e.g. the registration
office at registration) names the person, their residence status and needs, and attests that
the person consented to passing these data to the centre. Staff invite the person (an
appointment: day, time, site), and the referral ends when the person arrives (an intake is
recorded; the referral keeps its id), is declined (a reason in words) or cannot be reached.
The sender reads the status back. Events carry ids and codes only, never a name.
"""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Mapping

from shared.events.model import InboundReferralReceivedV1, InboundReferralStatusChangedV1
from shared.reference import SITES


class InboundStatus(str, Enum):
    RECEIVED = "received"
    INVITED = "invited"
    ARRIVED = "arrived"
    DECLINED = "declined"
    NOT_REACHED = "not_reached"


OPEN = (InboundStatus.RECEIVED, InboundStatus.INVITED, InboundStatus.NOT_REACHED)

# status -> the statuses it may become. An invited person may be invited again (another
# appointment); one not reached may be invited when they get in touch after all.
ALLOWED = {
    InboundStatus.RECEIVED: {InboundStatus.INVITED, InboundStatus.ARRIVED,
                             InboundStatus.DECLINED, InboundStatus.NOT_REACHED},
    InboundStatus.INVITED: {InboundStatus.INVITED, InboundStatus.ARRIVED,
                            InboundStatus.DECLINED, InboundStatus.NOT_REACHED},
    InboundStatus.NOT_REACHED: {InboundStatus.INVITED, InboundStatus.ARRIVED,
                                InboundStatus.DECLINED},
    InboundStatus.ARRIVED: set(),
    InboundStatus.DECLINED: set(),
}


class InboundError(ValueError):
    """Input an inbound referral refuses; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class TransitionRefused(Exception):
    """A move the referral's status does not allow (declined twice, invited after arrival)."""

    def __init__(self, status: InboundStatus, wanted: InboundStatus):
        super().__init__(f"the inbound referral is {status.value}; it cannot become "
                         f"{wanted.value}")
        self.status, self.wanted = status, wanted


@dataclass(frozen=True)
class Appointment:
    day: date
    at: time
    site: str

    def __post_init__(self) -> None:
        if self.site not in {s.code for s in SITES}:
            raise InboundError("site", f"must be one of {', '.join(s.code for s in SITES)}")

    def as_dict(self) -> dict[str, str]:
        return {"date": self.day.isoformat(), "time": self.at.strftime("%H:%M"),
                "site": self.site}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Appointment | None:
        if not d:
            return None
        return cls(date.fromisoformat(d["date"]), time.fromisoformat(d["time"]), d["site"])


@dataclass(frozen=True)
class AttestedConsent:
    """The sender attests that the person agreed to their data going to the centre, after
    the information text of `information_version` in `language`."""

    method: str
    language: str
    information_version: str


@dataclass(frozen=True)
class InboundReferral:
    id: str
    sender: str  # the referring partner's code
    sent_by: str  # the partner user's account name (never the person's)
    person: Mapping[str, Any]  # as the intake's person schema takes it (JSON-ready)
    residence_status: str
    needs: tuple[Mapping[str, Any], ...]  # {code, urgency, note}
    consent: AttestedConsent
    status: InboundStatus
    created_at: datetime
    updated_at: datetime
    message: str | None = None  # the sender's note to the centre
    appointment: Appointment | None = None
    decline_reason: str | None = None
    intake_id: str | None = None
    person_id: str | None = None
    changed_by: str | None = None

    @property
    def need_codes(self) -> tuple[str, ...]:
        return tuple(n["code"] for n in self.needs)

    @property
    def state_seen(self) -> str:
        """A short tag of what a page showing the referral showed of its state (status,
        appointment, reason, last change): the version a move from that page names, so a
        colleague's change since is noticed, not overwritten."""
        state = (self.status.value, self.appointment, self.decline_reason, self.intake_id,
                 self.updated_at.isoformat(), self.changed_by)
        return hashlib.sha256(repr(state).encode()).hexdigest()[:16]

    def moved_to(self, status: InboundStatus, at: datetime, by: str, *,
                 appointment: Appointment | None = None, reason: str | None = None,
                 intake_id: str | None = None, person_id: str | None = None) -> InboundReferral:
        """The referral in its next status; TransitionRefused if its status does not allow,
        InboundError naming the field a move needs."""
        if status not in ALLOWED[self.status]:
            raise TransitionRefused(self.status, status)
        moved = replace(self, status=status, updated_at=at, changed_by=by)
        if status is InboundStatus.INVITED:
            if appointment is None:
                raise InboundError("date", "an invitation needs a date, time and site")
            return replace(moved, appointment=appointment)
        if status is InboundStatus.DECLINED:
            if not reason or not reason.strip():
                raise InboundError("reason", "say in words why the centre declines")
            return replace(moved, decline_reason=reason.strip())
        if status is InboundStatus.ARRIVED:
            if not intake_id:
                raise InboundError("intake_id", "the intake recorded for the person")
            return replace(moved, intake_id=intake_id, person_id=person_id)
        return moved

    def event(self) -> InboundReferralReceivedV1 | InboundReferralStatusChangedV1:
        """What the latest move tells the bus: ids and codes only (no name, no reason)."""
        rid = uuid.UUID(self.id)
        if self.status is InboundStatus.RECEIVED:
            return InboundReferralReceivedV1(
                inbound_referral_id=rid, sender=self.sender,
                residence_status=self.residence_status, needs=self.need_codes,
                received_at=self.created_at)
        return InboundReferralStatusChangedV1(
            inbound_referral_id=rid, sender=self.sender, status=self.status.value,
            changed_at=self.updated_at,
            appointment_site=self.appointment.site if self.appointment else None,
            intake_id=uuid.UUID(self.intake_id) if self.intake_id else None)


def new_referral(sender: str, sent_by: str, person: Mapping[str, Any], residence_status: str,
                 needs: tuple[Mapping[str, Any], ...], consent: AttestedConsent,
                 at: datetime, message: str | None = None) -> InboundReferral:
    """A referral as received; the caller checked the person's fields and the codes."""
    if not needs:
        raise InboundError("needs", "name at least one need")
    codes = [n["code"] for n in needs]
    if len(set(codes)) != len(codes):
        raise InboundError("needs", "each need once")
    return InboundReferral(str(uuid.uuid4()), sender, sent_by, dict(person), residence_status,
                           tuple(needs), consent, InboundStatus.RECEIVED, at, at, message)
