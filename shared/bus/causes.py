"""Why a message was parked, as a code an operator's page can put into words.

A parked message keeps one reason text (an AMQP header, a column of the embedded broker and
of the console's dead letters), so the cause travels as its first word in brackets:
`[handler_failed] KeyError: 'person'`. The rest is the technical detail for whoever repairs
it. Reasons parked before causes existed are read by their known wording.
"""
from __future__ import annotations

import enum
import re


class ParkCause(enum.StrEnum):
    UNREADABLE = "unreadable"  # the broker's bytes are no message at all
    CONTRACT = "contract"  # not an envelope, an unknown version, a payload off its contract
    MISROUTED = "misrouted"  # delivered to a subscriber that does not handle its type
    HANDLER_FAILED = "handler_failed"  # the handler raised: a bug, or data it cannot take
    DATABASE_REFUSED = "database_refused"  # the database refused the change for good
    GAVE_UP = "gave_up"  # a passing failure that lasted through every retry
    BROKER = "broker"  # the broker dead-lettered it (rejected, expired, queue full)
    UNKNOWN = "unknown"


_TAGGED = re.compile(r"^\[([a-z_]+)\] ?(.*)\Z", re.S)
_BY_VALUE = {c.value: c for c in ParkCause}
_OLD_WORDING = ((ParkCause.GAVE_UP, "gave up after "),
                (ParkCause.UNREADABLE, "undecodable message"),
                (ParkCause.BROKER, "dead-lettered by the broker"),
                (ParkCause.CONTRACT, "unknown event type/version"),
                (ParkCause.CONTRACT, "invalid envelope"),
                (ParkCause.CONTRACT, "body is not"))


def reason_starts(cause: ParkCause) -> tuple[str, ...]:
    """How the reasons of a cause begin: its tag, and the wording of older reasons (a filter
    by cause finds both)."""
    return (f"[{cause.value}]", *(start for c, start in _OLD_WORDING if c is cause))


def parked(cause: ParkCause, detail: str) -> str:
    """The reason text a message is parked with."""
    return f"[{cause.value}] {detail}"


def gave_up(attempts: int, reason: str) -> str:
    """The reason of a message parked once its retries are spent."""
    return parked(ParkCause.GAVE_UP, f"gave up after {attempts} attempts: {reason}")


def read_cause(reason: str | None) -> tuple[ParkCause, str]:
    """The cause of a parked message and its technical detail."""
    text = reason or ""
    tagged = _TAGGED.match(text)
    if tagged and tagged.group(1) in _BY_VALUE:
        return _BY_VALUE[tagged.group(1)], tagged.group(2)
    for cause, start in _OLD_WORDING:
        if text.startswith(start):
            return cause, text
    if " does not handle " in text:
        return ParkCause.MISROUTED, text
    return ParkCause.UNKNOWN, text
