"""What happens to one delivered message, whatever transport brought it.

`deliver()` decodes the envelope and reads its payload as the typed event of its contract
(values of another type are refused; the contract as a whole was checked by the producer,
docs/architecture.md §5), then runs the subscription's handler inside
a unit of work whose inbox row commits together with the handler's effects. It returns a
verdict; the transport carries it out (ack, delayed retry, or parking) only afterwards, so
no message is acknowledged before its effect is committed (every verdict is also counted,
with the handler's latency, in shared/metrics.py):

* ACK   - effect committed, or the event id was already processed (a redelivery);
* RETRY - a transient failure (database unavailable, TransientError): try again later;
* PARK  - the message can never succeed (malformed, unknown version, a bug): keep it aside
          with the reason, so it never blocks its queue.

`deliver_batch()` does the same for up to a batch of messages of one subscription in one
transaction: one multi-row inbox insert says which events are new, one query which of them
concern an erased person, then the handler runs for each new event (or the subscription's
`batch_handler` once for all), and one commit. Per message, the transport's plumbing (a
session, BEGIN, inbox insert, tombstone query, COMMIT) cost more than the business logic, so
batching divides it by the batch size. If anything in the batch fails, the transaction rolls
back and the messages are delivered again one by one, each in its own transaction, so a
poison message is parked alone and the others' effects commit.
"""
from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from shared import metrics
from shared.bus.causes import ParkCause, parked
from shared.bus.topology import Subscription
from shared.erasure import concerns_erased, erased_among
from shared.events.envelope import Envelope, InvalidEvent, parse_envelope
from shared.events.model import typed
from shared.logging import correlation_scope
from shared.uow import UnitOfWork

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


UnitOfWorkFactory = Callable[[], UnitOfWork]


def deliver(body: bytes | str, subscription: Subscription,
            uow_factory: UnitOfWorkFactory) -> Outcome:
    """Process one message for one subscription and say what to do with it."""
    return deliver_batch([body], subscription, uow_factory)[0]


def deliver_batch(bodies: Sequence[bytes | str], subscription: Subscription,
                  uow_factory: UnitOfWorkFactory) -> list[Outcome]:
    """Process messages of one subscription together; one outcome per body, in order."""
    started = time.perf_counter()
    outcomes: dict[int, Outcome] = {}  # by the body's index, each body's once settled
    types = ["invalid"] * len(bodies)  # malformed or not for this subscriber: one bounded label
    todo: list[tuple[int, Envelope]] = []
    for i, body in enumerate(bodies):
        try:
            envelope = parse_envelope(body)
            typed(envelope)  # its values' types, before any transaction (kept for the handler)
        except InvalidEvent as exc:
            log.warning("parking malformed message", extra={"subscription": subscription.key,
                                                            "reason": str(exc)})
            outcomes[i] = Outcome(Verdict.PARK, parked(ParkCause.CONTRACT, str(exc)))
            continue
        if envelope.type not in subscription.event_types:
            outcomes[i] = Outcome(Verdict.PARK, parked(
                ParkCause.MISROUTED, f"{subscription.key} does not handle {envelope.type}"),
                envelope.id)
            continue
        types[i] = envelope.type
        try:
            wanted = subscription.wants is None or subscription.wants(envelope)
        except Exception as exc:  # a bug, or a payload it cannot read: this message only
            log.exception("wants() failed; parking", extra={"event_id": envelope.id,
                                                            "subscription": subscription.key})
            outcomes[i] = Outcome(Verdict.PARK, parked(ParkCause.HANDLER_FAILED, _said(exc)),
                                  envelope.id)
            continue
        if wanted:
            todo.append((i, envelope))
        else:
            outcomes[i] = Outcome(Verdict.ACK, "nothing to do", envelope.id)
    if len(todo) > 1 or (todo and subscription.batch_handler is not None):
        try:
            outcomes.update(_handle_batch(todo, subscription, uow_factory))
        except Exception as exc:
            if _database_unreachable(exc):  # one by one, each would wait for it again
                log.warning("database unreachable; the batch will be retried",
                            extra={"subscription": subscription.key, "size": len(todo),
                                   "reason": str(exc)[:300]})
                outcomes.update({i: Outcome(Verdict.RETRY, f"{type(exc).__name__}: "
                                                           f"{str(exc)[:300]}", e.id)
                                 for i, e in todo})
            else:  # find the message that fails: each on its own
                log.info("batch failed, delivering its messages one by one",
                         extra={"subscription": subscription.key, "size": len(todo),
                                "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
    for i, envelope in todo:
        if i not in outcomes:
            with correlation_scope(envelope.correlationid):
                outcomes[i] = _handle(envelope, subscription, uow_factory)
    settled = [outcomes[i] for i in range(len(bodies))]
    share = (time.perf_counter() - started) / max(len(bodies), 1)
    for outcome, event_type in zip(settled, types, strict=True):
        metrics.observe_delivery(subscription.key, event_type, outcome.verdict.value, share)
    return settled


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _database_unreachable(exc: Exception) -> bool:
    """A lost or refused database connection (not a deadlock, a constraint or a bug, which
    the one-by-one retry sorts out): no message of the batch can succeed now."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    # SQLite's "database is locked" passes with the transaction: one by one is fine there
    return (sqlstate is None and "locked" not in str(exc)) or str(sqlstate).startswith("08")


def _handle_batch(todo: list[tuple[int, Envelope]], subscription: Subscription,
                  uow_factory: UnitOfWorkFactory) -> dict[int, Outcome]:
    """All of `todo` in one transaction; raises (rolled back) if any part fails."""
    outcomes: dict[int, Outcome] = {}
    with uow_factory() as uow:
        fresh = uow.first_deliveries(subscription.key, [e.id for _, e in todo])
        new: list[tuple[int, Envelope]] = []
        for i, envelope in todo:
            if envelope.id in fresh:
                fresh.discard(envelope.id)  # the same event twice in one batch: once
                new.append((i, envelope))
            else:
                outcomes[i] = Outcome(Verdict.ACK, "duplicate", envelope.id)
        if subscription.tombstones is not None and new:
            erased = erased_among(uow.session, subscription.tombstones, [e for _, e in new])
            for i, envelope in new:
                if envelope.id in erased:
                    outcomes[i] = Outcome(Verdict.ACK, "about an erased person", envelope.id)
            new = [(i, e) for i, e in new if e.id not in erased]
        if subscription.batch_handler is not None:
            if new:
                subscription.batch_handler([e for _, e in new], uow)
        else:
            for _, envelope in new:
                uow.caused_by(envelope)
                with correlation_scope(envelope.correlationid):
                    subscription.handler(envelope, uow)
        uow.commit()
    for i, envelope in new:
        outcomes[i] = Outcome(Verdict.ACK, "", envelope.id)
    log.info("handled events", extra={"subscription": subscription.key, "count": len(new)})
    return outcomes


def _handle(envelope: Envelope, subscription: Subscription,
            uow_factory: UnitOfWorkFactory) -> Outcome:
    try:
        with uow_factory() as uow:
            if not uow.first_delivery(subscription.key, envelope.id):
                return Outcome(Verdict.ACK, "duplicate", envelope.id)
            if subscription.tombstones is not None and concerns_erased(
                    uow.session, subscription.tombstones, envelope):
                uow.commit()  # the inbox row: a redelivery is a duplicate
                return Outcome(Verdict.ACK, "about an erased person", envelope.id)
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
        return Outcome(Verdict.PARK, parked(ParkCause.DATABASE_REFUSED, _said(exc)), envelope.id)
    except Exception as exc:  # a bug: park at once and say so loudly
        log.exception("handler failed; parking", extra={"event_id": envelope.id,
                                                        "subscription": subscription.key})
        return Outcome(Verdict.PARK, parked(ParkCause.HANDLER_FAILED, _said(exc)), envelope.id)
    log.info("handled event", extra={"event_id": envelope.id, "event_type": envelope.type,
                                     "subscription": subscription.key})
    return Outcome(Verdict.ACK, "", envelope.id)


def _processed(subscription: Subscription, event_id: str,
               uow_factory: UnitOfWorkFactory) -> bool:
    with uow_factory() as uow:
        return uow.already_processed(subscription.key, event_id)
