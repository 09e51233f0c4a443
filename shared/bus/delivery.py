"""What happens to one delivered message, whatever transport brought it.

`deliver()` decodes and validates the envelope, then runs the subscription's handler inside
a unit of work whose inbox row commits together with the handler's effects. It returns a
verdict; the transport carries it out (ack, delayed retry, or parking) only afterwards, so
no message is acknowledged before its effect is committed (every verdict is also counted,
with the handler's latency, in shared/metrics.py):

* ACK   - effect committed, or the event id was already processed (a redelivery);
* RETRY - a transient failure (database unavailable, TransientError): try again later;
* PARK  - the message can never succeed (malformed, unknown version, a bug): keep it aside
          with the reason, so it never blocks its queue.
"""
from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared import metrics
from shared.bus.topology import Subscription
from shared.events.envelope import InvalidEvent, parse_envelope
from shared.logging import correlation_scope

log = logging.getLogger(__name__)


class TransientError(Exception):
    """A dependency is briefly unavailable; the same message may succeed later."""


class Verdict(enum.Enum):
    ACK = "ack"
    RETRY = "retry"
    PARK = "park"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    reason: str = ""
    event_id: str | None = None


def deliver(body: bytes | str, subscription: Subscription, uow_factory: Callable) -> Outcome:
    """Process one message for one subscription and say what to do with it."""
    started = time.perf_counter()
    event_type = "invalid"  # malformed or not for this subscriber: one bounded label value
    try:
        envelope = parse_envelope(body)
    except InvalidEvent as exc:
        log.warning("parking malformed message", extra={"subscription": subscription.key,
                                                        "reason": str(exc)})
        outcome = Outcome(Verdict.PARK, str(exc))
    else:
        if envelope.type not in subscription.event_types:
            outcome = Outcome(Verdict.PARK,
                              f"{subscription.key} does not handle {envelope.type}", envelope.id)
        elif subscription.wants is not None and not subscription.wants(envelope):
            event_type = envelope.type
            outcome = Outcome(Verdict.ACK, "nothing to do", envelope.id)
        else:
            event_type = envelope.type
            with correlation_scope(envelope.correlationid):
                outcome = _handle(envelope, subscription, uow_factory)
    metrics.observe_delivery(subscription.key, event_type, outcome.verdict.value,
                             time.perf_counter() - started)
    return outcome


def _handle(envelope, subscription: Subscription, uow_factory: Callable) -> Outcome:
    try:
        with uow_factory() as uow:
            if not uow.first_delivery(subscription.key, envelope.id):
                return Outcome(Verdict.ACK, "duplicate", envelope.id)
            uow.caused_by(envelope)
            subscription.handler(envelope, uow)
            uow.commit()
    except IntegrityError:
        # A concurrent delivery of the same event committed first (inbox primary key).
        if _processed(subscription, envelope.id, uow_factory):
            return Outcome(Verdict.ACK, "duplicate", envelope.id)
        log.exception("integrity error while handling", extra={"event_id": envelope.id})
        return Outcome(Verdict.RETRY, "integrity error", envelope.id)
    except (TransientError, OperationalError) as exc:
        log.warning("transient failure, will retry", extra={"event_id": envelope.id,
                                                            "reason": str(exc)[:300]})
        return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {str(exc)[:300]}", envelope.id)
    except DBAPIError as exc:
        if exc.connection_invalidated:
            return Outcome(Verdict.RETRY, f"database connection lost: {exc}"[:300], envelope.id)
        log.exception("database error in handler", extra={"event_id": envelope.id})
        return Outcome(Verdict.PARK, f"{type(exc).__name__}: {str(exc)[:300]}", envelope.id)
    except Exception as exc:  # a bug: park at once and say so loudly
        log.exception("handler failed; parking", extra={"event_id": envelope.id,
                                                        "subscription": subscription.key})
        return Outcome(Verdict.PARK, f"{type(exc).__name__}: {str(exc)[:300]}", envelope.id)
    log.info("handled event", extra={"event_id": envelope.id, "event_type": envelope.type,
                                     "subscription": subscription.key})
    return Outcome(Verdict.ACK, "", envelope.id)


def _processed(subscription: Subscription, event_id: str, uow_factory: Callable) -> bool:
    with uow_factory() as uow:
        return uow.already_processed(subscription.key, event_id)
