"""Unit of work: one DB transaction holding a service's state change, inbox mark and events."""
from __future__ import annotations

import functools
from typing import Any, Callable, Protocol, Sequence

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from shared.clock import Clock, utcnow
from shared.db import UPSERT_INSERTS
from shared.events.envelope import Envelope, new_envelope
from shared.events.typed import TypedEvent
from shared.logging import current_correlation_id
from shared.outbox import stage_all


class UnitOfWorkLike(Protocol):
    """What a handler does with its unit of work: `UnitOfWork`, or in tests one without a
    database (tests/fakes.py's FakeUnitOfWork). The caller opens and closes it."""

    @property
    def session(self) -> Session: ...

    @property
    def clock(self) -> Clock: ...

    def emit(self, event_type: str, subject: str, data: dict[str, Any],
             version: int = 1) -> Envelope: ...

    def publish(self, event: TypedEvent) -> Envelope: ...

    def caused_by(self, envelope: Envelope) -> None: ...

    def continues(self, correlation_id: str, causation_id: str) -> None: ...

    def commit(self) -> None: ...


@functools.cache
def _inbox_insert_skipping_existing(dialect: str, inbox: Table) -> ReturningInsert[Any] | None:
    """Built once per inbox (see first_delivery); None where the dialect has no such insert."""
    if dialect not in UPSERT_INSERTS:
        return None
    return UPSERT_INSERTS[dialect](inbox).on_conflict_do_nothing().returning(inbox.c.event_id)


class UnitOfWork:
    """`with uow:` opens a session; `commit()` writes staged events to the outbox in the same
    transaction; leaving the block without commit rolls everything back."""

    def __init__(self, session_factory: sessionmaker[Session], outbox: Table, inbox: Table,
                 producer: str, clock: Clock = utcnow,
                 on_commit: Callable[[], None] | None = None):
        self._session_factory, self._outbox, self._inbox = session_factory, outbox, inbox
        self.producer, self.clock, self._on_commit = producer, clock, on_commit
        self._session: Session | None = None  # none until `with uow:` opens one
        self._staged: list[Envelope] = []
        self._cause: Envelope | None = None
        self._flow: tuple[str, str] | None = None

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self._staged, self._cause, self._flow = [], None, None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        session = self.session
        try:
            session.rollback()
        finally:
            session.close()

    @property
    def session(self) -> Session:
        """The session `with uow:` opened (RuntimeError before the block has opened one)."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a `with` block")
        return self._session

    def caused_by(self, envelope: Envelope) -> None:
        """Events emitted from now on continue this event's correlation and name it as cause."""
        self._cause = envelope

    def continues(self, correlation_id: str, causation_id: str) -> None:
        """Work resumed later (a timer, a retry loop) continues the flow that asked for it,
        unless a delivered event already names the cause."""
        if self._cause is None:
            self._flow = (correlation_id, causation_id)

    def emit(self, event_type: str, subject: str, data: dict[str, Any],
             version: int = 1) -> Envelope:
        correlation: str | None
        causation: str | None
        if self._cause:
            correlation, causation = self._cause.correlationid, self._cause.id
        elif self._flow:
            correlation, causation = self._flow
        else:
            correlation, causation = current_correlation_id(), None
        envelope = new_envelope(event_type, version, self.producer, subject, data,
                                correlation_id=correlation, causation_id=causation)
        self._staged.append(envelope)
        return envelope

    def publish(self, event: TypedEvent) -> Envelope:
        """Stage a typed event (shared/events: a frozen dataclass per contract version with
        class attributes `type` and `version`, a `subject` and `data()`)."""
        return self.emit(event.type, subject=event.subject, data=event.data(),
                         version=event.version)

    def already_processed(self, subscriber: str, event_id: str) -> bool:
        t = self._inbox
        return self.session.execute(select(t.c.event_id).where(
            t.c.subscriber == subscriber, t.c.event_id == event_id)).first() is not None

    def mark_processed(self, subscriber: str, event_id: str) -> None:
        self.session.execute(self._inbox.insert(), dict(
            subscriber=subscriber, event_id=event_id, processed_at=self.clock()))

    def first_delivery(self, subscriber: str, event_id: str) -> bool:
        """Mark the event processed by this subscriber; False if it already was. One
        statement (an insert skipping an existing row) instead of a lookup and an insert;
        a concurrent first delivery's row makes it wait for that one's commit or rollback."""
        statement = _inbox_insert_skipping_existing(self.session.get_bind().dialect.name,
                                                    self._inbox)
        if statement is None:
            if self.already_processed(subscriber, event_id):
                return False
            self.mark_processed(subscriber, event_id)
            return True
        return self.session.execute(statement, dict(
            subscriber=subscriber, event_id=event_id, processed_at=self.clock()),
        ).first() is not None

    def first_deliveries(self, subscriber: str, event_ids: Sequence[str]) -> set[str]:
        """Mark a batch of events processed by this subscriber; returns the ids that were not
        already. One multi-row insert skipping existing rows, in id order (two batches
        sharing events then wait for each other instead of deadlocking)."""
        ids = sorted(set(event_ids))
        statement = _inbox_insert_skipping_existing(self.session.get_bind().dialect.name,
                                                    self._inbox)
        if statement is None or len(ids) == 1:
            return {i for i in ids if self.first_delivery(subscriber, i)}
        now = self.clock()
        rows = self.session.execute(statement, [
            dict(subscriber=subscriber, event_id=i, processed_at=now) for i in ids])
        return set(rows.scalars())

    def commit(self) -> None:
        stage_all(self.session, self._outbox, self._staged, self.clock())
        self.session.commit()
        self._staged = []
        if self._on_commit:
            self._on_commit()

    def rollback(self) -> None:
        self.session.rollback()
        self._staged = []
