"""The reporting service's bus handler: each counted event becomes a fact, kept in the log
and applied to the figure tables in the same transaction as its inbox row (a redelivered
event is a duplicate there and counts once). Erasure requests re-key what they name.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from services.reporting import domain, erasure, projection
from services.reporting.bootstrap import ReportingUnitOfWork
from services.reporting.tables import erased
from shared.erasure import concerns_erased
from shared.events.envelope import Envelope
from shared.events.model import typed
from shared.logging import correlation_scope


def record(envelope: Envelope, uow: ReportingUnitOfWork) -> None:
    """Count one event. Erasure events and facts share one queue, so a fact delivered before
    the erasure is re-keyed with the rest, and one after it is dropped here: also one in the
    same batch (the delivery's tombstone check ran before it) or taken by another consumer
    at the same time (the key's lock, then the tombstones, projection.serialise)."""
    if envelope.type == "person.erased":
        erasure.note_referrals(envelope, uow)
        return
    fact = domain.fact_of(typed(envelope), uow.key)
    conn = uow.session.connection()
    if fact is not None:
        projection.serialise(conn, projection.keys_to_serialise(fact))
    if concerns_erased(uow.session, erased, envelope):
        return
    if fact is not None:
        projection.append(conn, envelope.id, fact, uow.clock())
        projection.apply(conn, fact)
    if envelope.type == "person.erasure_requested":
        erasure.erase_person(envelope, uow)


def record_batch(envelopes: Sequence[Envelope], uow: ReportingUnitOfWork) -> None:
    """A batch of events in one transaction (shared/bus/delivery.py), each counted as
    `record` does. The locks of every fact and erasure in it are taken first, all at once in
    one order: taken event by event they would follow the arrival order, and two batches
    running at once could each hold a key the other waits for."""
    projection.serialise(uow.session.connection(),
                         [k for envelope in envelopes for k in _keys_of(envelope, uow)])
    for envelope in envelopes:
        uow.caused_by(envelope)
        with correlation_scope(envelope.correlationid):
            record(envelope, uow)


def _keys_of(envelope: Envelope, uow: ReportingUnitOfWork) -> Iterator[str | None]:
    """The keys `record` locks for the event (re-taking a lock the transaction holds does
    not wait)."""
    if envelope.type == "person.erasure_requested":
        yield from erasure.keys_to_serialise(envelope, uow.key)
    if envelope.type != "person.erased":
        fact = domain.fact_of(typed(envelope), uow.key)
        if fact is not None:
            yield from projection.keys_to_serialise(fact)
