"""Fakes for our own ports (not mocks): partner gateways, a recording publisher and a unit of
work without outbox and inbox."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.partner_adapter.partners.base import (PartnerAnswerLost, PartnerRefused,
                                                    PartnerUnavailable, Receipt)
from shared.clock import Clock, utcnow
from shared.events.envelope import Envelope, new_envelope
from shared.events.typed import TypedEvent


class FakePartnerGateway:
    """Counts calls per idempotency key; can fail a number of times or refuse."""

    def __init__(self, fail_times: int = 0, refuse: bool = False, prefix: str = "FK",
                 lose_answers: int = 0):
        self.fail_times, self.refuse, self.prefix = fail_times, refuse, prefix
        self.lose_answers = lose_answers  # create the case, but the answer never arrives
        self.calls: list[str] = []
        self.lookups: list[str] = []
        self.cases: dict[str, str] = {}
        self.by_referral: dict[str, str] = {}
        self.reminders: list[tuple[str, str]] = []
        self.cancellations: list[tuple[str, str]] = []

    def open_case(self, request: dict, idempotency_key: str) -> Receipt:
        self.calls.append(idempotency_key)
        if self.refuse:
            raise PartnerRefused("HTTP 422: client.date_of_birth missing")
        if self.fail_times:
            self.fail_times -= 1
            raise PartnerUnavailable("HTTP 503")
        ref = self.cases.setdefault(idempotency_key, f"{self.prefix}-{len(self.cases) + 1}")
        self.by_referral[str(request.get("referral_id"))] = ref
        if self.lose_answers:
            self.lose_answers -= 1
            raise PartnerAnswerLost("ReadTimeout: no answer within 10 s")
        return Receipt(ref)

    def payload(self, request: dict) -> dict:
        return dict(request)

    def find_case(self, referral_id: str) -> Receipt | None:
        self.lookups.append(referral_id)
        ref = self.by_referral.get(referral_id)
        return Receipt(ref) if ref else None

    def remind(self, case_ref: str, idempotency_key: str) -> None:
        self.reminders.append((case_ref, idempotency_key))

    def cancel(self, case_ref: str, idempotency_key: str) -> None:
        self.cancellations.append((case_ref, idempotency_key))


class RecordingPublisher:
    def __init__(self, fail: bool = False):
        self.published: list = []
        self.fail = fail

    def publish_batch(self, messages):
        if self.fail:
            raise ConnectionError("broker down")
        self.published.extend(messages)
        return [True] * len(messages)

    def heartbeat(self) -> None:
        pass

    def close(self) -> None:
        pass


class FakeUnitOfWork:
    """A unit of work for handler tests (shared.uow.UnitOfWorkLike): events are staged as
    UnitOfWork stages them (checked against their contract, with the same correlation and
    causation) and `published` once committed; `session` is the one given, if the handler
    reads or writes rows, and is committed and rolled back with the fake."""

    def __init__(self, session: Session | None = None, clock: Clock = utcnow,
                 producer: str = "test"):
        self._session, self.clock, self.producer = session, clock, producer
        self.staged: list[Envelope] = []
        self.published: list[Envelope] = []
        self.committed = False
        self._cause: Envelope | None = None
        self._flow: tuple[str, str] | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise AssertionError("the handler uses the database: give FakeUnitOfWork a session")
        return self._session

    def __enter__(self) -> FakeUnitOfWork:
        self.staged, self._cause, self._flow = [], None, None
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.staged = []  # not committed: rolled back
        if self._session is not None:
            self._session.rollback()

    def caused_by(self, envelope: Envelope) -> None:
        self._cause = envelope

    def continues(self, correlation_id: str, causation_id: str) -> None:
        if self._cause is None:
            self._flow = (correlation_id, causation_id)

    def emit(self, event_type: str, subject: str, data: dict[str, Any],
             version: int = 1) -> Envelope:
        correlation, causation = ((self._cause.correlationid, self._cause.id) if self._cause
                                  else self._flow or (None, None))
        envelope = new_envelope(event_type, version, self.producer, subject, data,
                                correlation_id=correlation, causation_id=causation)
        self.staged.append(envelope)
        return envelope

    def publish(self, event: TypedEvent) -> Envelope:
        return self.emit(event.type, subject=event.subject, data=event.data(),
                         version=event.version)

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()
        self.published += self.staged
        self.staged = []
        self.committed = True
