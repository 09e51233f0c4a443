"""The reporting service's bus handler: each counted event becomes a fact, kept in the log
and applied to the figure tables in the same transaction as its inbox row (a redelivered
event is a duplicate there and counts once). Erasure requests re-key what they name.
"""
from __future__ import annotations

from services.reporting import domain, erasure, projection
from services.reporting.bootstrap import ReportingUnitOfWork
from services.reporting.tables import erased
from shared.erasure import concerns_erased
from shared.events.envelope import Envelope
from shared.events.model import typed


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
