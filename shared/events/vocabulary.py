"""Coded values that travel in events, as Enums (str-valued: the wire and the tables keep the
very same strings, and a member equals its string)."""
from __future__ import annotations

import enum
from typing import Iterable


class ReferralStatus(enum.StrEnum):
    """FHIR Task status codes (http://hl7.org/fhir/task-status) a referral goes through;
    "ready" and "entered-in-error" are not used by Lotse."""

    DRAFT = "draft"
    REQUESTED = "requested"
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"


# What a partner may report about its case (partner_case.status_reported), in that order.
PARTNER_REPORTED = (ReferralStatus.ACCEPTED, ReferralStatus.REJECTED,
                    ReferralStatus.IN_PROGRESS, ReferralStatus.ON_HOLD,
                    ReferralStatus.COMPLETED, ReferralStatus.CANCELLED)


_S = ReferralStatus
# The referral lifecycle as a partner answers on its case: what may follow its last answer
# (none yet: the case was delivered). Rejected, completed and cancelled are its last word;
# once accepted, a case is no longer rejected (it is cancelled, with a reason, or completed).
PARTNER_ANSWERS_AFTER: dict[ReferralStatus | None, tuple[ReferralStatus, ...]] = {
    None: PARTNER_REPORTED,
    _S.RECEIVED: PARTNER_REPORTED,
    _S.ACCEPTED: (_S.IN_PROGRESS, _S.ON_HOLD, _S.COMPLETED, _S.CANCELLED),
    _S.IN_PROGRESS: (_S.ON_HOLD, _S.COMPLETED, _S.CANCELLED),
    _S.ON_HOLD: (_S.ACCEPTED, _S.IN_PROGRESS, _S.COMPLETED, _S.CANCELLED),
}
# Why a partner rejects a case, coded ('other' with a note): the referral keeps the code.
PARTNER_REJECTION_REASONS = ("not_eligible", "no_capacity", "person_unreachable",
                             "wrong_partner", "duplicate", "other")


# The codes a referral's `reason` and `outcome` (referral.requested, referral.status_changed)
# are taken from, for the consumers that count or show them: the referral service's Reason and
# Outcome use these very codes (a test checks they agree). The contract keeps both free strings
# (older referrals may hold free text there): a consumer keeps a known code only.
REFERRAL_REASONS = ("not_eligible", "no_capacity", "person_unreachable", "wrong_partner",
                    "duplicate", "consent_withdrawn", "person_withdrew", "created_in_error",
                    "superseded", "expired", "delivery_failed", "partner_refused_request",
                    "no_matching_rule", "fact_missing", "consent_missing",
                    "prerequisite_pending", "waiting_for_person", "partner_paused", "other")
REFERRAL_OUTCOMES = ("counselling_started", "course_place_offered", "appointment_kept",
                     "application_filed", "place_offered", "case_closed", "other")


class DeadlinePhase(enum.StrEnum):
    """Which of a referral's clocks ran: the partner's acknowledgement, or its completion."""

    ACKNOWLEDGEMENT = "acknowledgement"
    COMPLETION = "completion"


class NoticeKind(enum.StrEnum):
    """What a partner holding the person's data was told."""

    CONSENT_WITHDRAWN = "consent_withdrawn"
    ERASURE = "erasure"


def values(members: Iterable[enum.StrEnum]) -> tuple[str, ...]:
    """The plain strings of some members (a contract's OneOf, a form's choices)."""
    return tuple(m.value for m in members)
