"""The reporting service's bus handler: each counted event becomes a fact, kept in the log
and applied to the figure tables in the same transaction as its inbox row (a redelivered
event is a duplicate there and counts once). Erasure requests re-key what they name.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Sequence

from services.reporting import domain, erasure, projection
from services.reporting.bootstrap import ReportingUnitOfWork
from services.reporting.domain import Fact
from services.reporting.tables import erased
from shared.erasure import erased_among
from shared.events.envelope import Envelope
from shared.events.model import typed
from shared.logging import correlation_scope

ERASURE_REQUESTED, ERASED = "person.erasure_requested", "person.erased"


def record(envelope: Envelope, uow: ReportingUnitOfWork) -> None:
    """Count one event (a batch of one)."""
    record_batch([envelope], uow)


def record_batch(envelopes: Sequence[Envelope], uow: ReportingUnitOfWork) -> None:
    """Count a batch of events in one transaction (shared/bus/delivery.py): their facts
    logged and applied together, a few statements for the whole batch (projection.apply_all).

    The locks of every fact and erasure in it are taken first, all at once in one order:
    taken event by event they would follow the arrival order, and two batches running at
    once could each hold a key the other waits for. Then the tombstones are read, so a fact
    about a person whose erasure another consumer is taking waits for it and is dropped.
    Erasure events and facts share one queue: the facts before an erasure in the batch are
    counted (and re-keyed with the rest), those after it are checked against its tombstones
    again."""
    facts = {e.id: domain.fact_of(typed(e), uow.key) for e in envelopes if e.type != ERASED}
    conn = uow.session.connection()
    projection.serialise(conn, [k for e in envelopes for k in _keys_of(e, facts, uow)])
    for counted, erasure_event in _up_to_each_erasure(envelopes):
        _count(counted, facts, uow)
        if erasure_event is None:
            continue
        uow.caused_by(erasure_event)
        with correlation_scope(erasure_event.correlationid):
            if erasure_event.type == ERASED:
                erasure.note_referrals(erasure_event, uow)
            else:
                erasure.erase_person(erasure_event, uow)


def _count(envelopes: Sequence[Envelope], facts: Mapping[str, Fact | None],
           uow: ReportingUnitOfWork) -> None:
    dropped = erased_among(uow.session, erased, envelopes)
    kept = [(e.id, fact) for e in envelopes
            if e.id not in dropped and (fact := facts.get(e.id)) is not None]
    if kept:
        conn = uow.session.connection()
        projection.append(conn, kept, uow.clock())
        projection.apply_all(conn, [fact for _, fact in kept])


def _up_to_each_erasure(envelopes: Sequence[Envelope]
                        ) -> Iterator[tuple[list[Envelope], Envelope | None]]:
    """The batch cut after each erasure request (itself counted: an erasure) and before each
    erasure confirmation: the events to count, and the erasure to take after them."""
    counted: list[Envelope] = []
    for envelope in envelopes:
        if envelope.type == ERASURE_REQUESTED:
            counted.append(envelope)
        if envelope.type in (ERASURE_REQUESTED, ERASED):
            yield counted, envelope
            counted = []
        else:
            counted.append(envelope)
    if counted:
        yield counted, None


def _keys_of(envelope: Envelope, facts: Mapping[str, Fact | None],
             uow: ReportingUnitOfWork) -> Iterator[str | None]:
    """The keys counting the event locks (re-taking a lock the transaction holds does not
    wait)."""
    if envelope.type == ERASURE_REQUESTED:
        yield from erasure.keys_to_serialise(envelope, uow.key)
    fact = facts.get(envelope.id)
    if fact is not None:
        yield from projection.keys_to_serialise(fact)
