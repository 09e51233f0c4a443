"""What the partner adapter's use cases answer (str Enums: callers, logs and metric labels
see the same strings as before)."""
from __future__ import annotations

import enum


class DeliveryOutcome(enum.StrEnum):
    """How an attempt to deliver a pending case to its partner ended (open_partner_cases)."""

    OPENED = "opened"  # the partner has the case (also one found after a lost answer)
    RETRY = "retry"  # the partner was unavailable: tried again later with the same key
    FAILED = "failed"  # that was its last allowed attempt: staff take over
    REFUSED = "refused"  # the partner refused the request itself: retrying cannot help
    DEFERRED = "deferred"  # not tried now (circuit open, rate limit); no attempt used
    LATER = "later"  # could not start in its lease: the next round takes it, no attempt used
    WITHHELD = "withheld"  # its consent was withdrawn or the person erased: nothing sent
    ERROR = "error"  # failed unexpectedly: tried again once its lease lapses
    NOT_PENDING = "not pending"  # a callback recorded the opening meanwhile, or cancelled


class AnswerOutcome(enum.StrEnum):
    """What became of a partner's answer about its case (signed callback or portal)."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the partner re-sent (and signed anew) an answer recorded before
    REPLAYED = "replayed"  # the very same signed request again: refused
    UNKNOWN_CASE = "unknown_case"  # a callback naming no case of that partner
    NOT_FOUND = "not_found"  # portal: no such case, or another partner's
    CLOSED = "closed"  # portal: withdrawn by Lotse, or answered for good
    REFUSED = "refused"  # the referral lifecycle does not allow it after the last answer


class ReadOutcome(enum.StrEnum):
    """How reading an open case's status at a partner without webhooks went (a changed
    status is recorded like a callback: see AnswerOutcome)."""

    NOTHING_DUE = "nothing due"
    UNCHANGED = "unchanged"
    FAILED = "failed"  # the partner could not be read; read again later


class SendOutcome(enum.StrEnum):
    """How sending a reminder or a cancellation of an open case went."""

    NOTHING_DUE = "nothing due"
    SENT = "sent"
    RETRY = "retry"
