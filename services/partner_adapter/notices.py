"""Notices to partners that received a person's data: the consent was withdrawn, or the data
must be erased (Art. 7(3), 17 and 19 GDPR).

A notice is queued in the same transaction as the fact behind it and sent by the case
opener loop like any other partner call: one idempotency key per (case, kind), retries with
growing delays, the partner's circuit breaker, never a bus message held unacked. A notice
names only Lotse's referral id, the partner's own case reference, its kind, a reason code
and when it happened; never the person.

The consent a case relies on is its `basis` ("consent <id>", written when the case was
requested); a case shared on a statutory duty has no consent to withdraw.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable, Mapping, Sequence

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.partner_adapter import repository
from services.partner_adapter.domain import KEY_NAMESPACE, RETRY_DELAYS_SECONDS
from services.partner_adapter.guards import PartnerGuards
from services.partner_adapter.partners.base import (PartnerGateway, PartnerRefused,
                                                    PartnerUnavailable)
from services.partner_adapter.tables import disclosures, partner_notices, withdrawn_consents
from services.partner_adapter.tables import partner_cases as cases
from shared import metrics
from shared.clock import utcnow
from shared.db import is_postgres
from shared.events.envelope import Envelope

log = logging.getLogger(__name__)

KINDS = ("consent_withdrawn", "erasure")
# A notice must reach the partner however long it is down: after the last of the usual
# delays it is tried every RETRY_DELAYS_SECONDS[-1] (three hours) until it arrives.
NOTICE_DELAYS_SECONDS = RETRY_DELAYS_SECONDS


def consent_basis(consent_id: str) -> str:
    """The basis a case shared on this consent records (see handlers.request_partner_case)."""
    return f"consent {consent_id}"


def relies_on_consent(basis: str | None) -> str | None:
    """The consent id a case's basis names, or None (statutory duty, or a coarse consent of
    an old v1 intake without an id)."""
    if basis and basis.startswith("consent ") and not basis.startswith("consent ("):
        return basis.removeprefix("consent ").strip() or None
    return None


# -- the notice ------------------------------------------------------------------------------

@dataclass
class PartnerNotice:
    id: uuid.UUID
    case_id: str
    referral_id: str
    partner: str
    partner_case_ref: str
    kind: str
    reason: str
    occurred_at: datetime
    idempotency_key: str
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None
    events: list[tuple[str, dict]] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def queued(cls, *, case_id: str, referral_id: str, partner: str, partner_case_ref: str,
               case_key: str, kind: str, reason: str, occurred_at: datetime,
               now: datetime) -> "PartnerNotice":
        if kind not in KINDS:
            raise ValueError(f"unknown notice kind {kind!r}")
        return cls(id=uuid.uuid4(), case_id=case_id, referral_id=referral_id, partner=partner,
                   partner_case_ref=partner_case_ref, kind=kind, reason=reason[:60],
                   occurred_at=occurred_at, idempotency_key=notice_key(case_key, kind),
                   next_attempt_at=now, created_at=now, updated_at=now)

    def message(self) -> dict:
        """What the partner receives: no name, no birth date, nothing about the person."""
        return {"kind": self.kind, "referral_id": self.referral_id,
                "case_reference": self.partner_case_ref, "reason": self.reason,
                "occurred_at": self.occurred_at.isoformat()}

    def sent(self, now: datetime) -> None:
        self.status, self.sent_at, self.updated_at, self.last_error = "sent", now, now, None
        self.events.append(("partner_case.notice_sent", {
            "case_id": self.case_id, "referral_id": self.referral_id, "partner": self.partner,
            "partner_case_ref": self.partner_case_ref, "kind": self.kind,
            "reason": self.reason, "occurred_at": self.occurred_at, "sent_at": now}))

    def attempt_failed(self, error: str, now: datetime) -> None:
        """Partner down or slow: the same notice again later, with the same key."""
        self.attempts += 1
        self.last_error, self.updated_at = error[:1000], now
        delay = NOTICE_DELAYS_SECONDS[min(self.attempts, len(NOTICE_DELAYS_SECONDS)) - 1]
        self.next_attempt_at = now + timedelta(seconds=delay)

    def deferred(self, until: datetime, why: str, now: datetime) -> None:
        self.next_attempt_at, self.last_error, self.updated_at = until, why[:1000], now

    def refused(self, error: str, now: datetime) -> None:
        """The partner refused the notice itself (4xx): retrying cannot help; operators
        must tell the partner another way (logged as an error, listed in the portal)."""
        self.attempts += 1
        self.status, self.last_error, self.updated_at = "failed", error[:1000], now


def notice_key(case_key: str, kind: str) -> str:
    """Deterministic: one notice of a kind per case, so the partner dedups every retry."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{case_key}:notice:{kind}"))


def _values(n: PartnerNotice) -> dict:
    return dict(case_id=n.case_id, referral_id=n.referral_id, partner=n.partner,
                partner_case_ref=n.partner_case_ref, kind=n.kind, reason=n.reason,
                occurred_at=n.occurred_at, idempotency_key=n.idempotency_key, status=n.status,
                attempts=n.attempts, next_attempt_at=n.next_attempt_at,
                last_error=n.last_error, created_at=n.created_at, updated_at=n.updated_at,
                sent_at=n.sent_at)


def _notice(row) -> PartnerNotice:
    return PartnerNotice(id=uuid.UUID(row.id), case_id=row.case_id, referral_id=row.referral_id,
                         partner=row.partner, partner_case_ref=row.partner_case_ref,
                         kind=row.kind, reason=row.reason, occurred_at=row.occurred_at,
                         idempotency_key=row.idempotency_key, status=row.status,
                         attempts=row.attempts, next_attempt_at=row.next_attempt_at,
                         last_error=row.last_error, created_at=row.created_at,
                         updated_at=row.updated_at, sent_at=row.sent_at)


# -- who received data -----------------------------------------------------------------------

@dataclass(frozen=True)
class Recipient:
    """A partner case that reached its partner: what a notice needs to name it."""

    case_id: str
    referral_id: str
    partner: str
    partner_case_ref: str
    idempotency_key: str
    status: str
    partner_status: str | None
    basis: str | None


def recipients(session: Session, *, referral_ids: Iterable[str] | None = None,
               consent_id: str | None = None, lock: bool = False) -> list[Recipient]:
    """Cases of these referrals / relying on this consent that reached their partner: the
    partner holds a case reference (opened at its system, or taken over in the portal) or a
    disclosure was recorded. Both filters given: cases matching either."""
    conditions = _concerning(referral_ids, consent_id)
    if not conditions:
        return []
    disclosed = select(disclosures.c.id).where(disclosures.c.case_id == cases.c.id).exists()
    query = (select(cases).where(or_(*conditions),
                                 or_(cases.c.partner_case_ref.is_not(None), disclosed))
             .order_by(cases.c.created_at, cases.c.id))
    if lock:  # see queue_notices: serialises with a delivery being recorded right now
        query = query.with_for_update()
    return [Recipient(r.id, r.referral_id, r.partner, r.partner_case_ref or "", r.idempotency_key,
                      r.status, r.partner_status, r.basis)
            for r in session.execute(query).all()]


def _concerning(referral_ids: Iterable[str] | None, consent_id: str | None) -> list:
    """The conditions selecting the cases of these referrals / relying on this consent (to
    be or-ed; none: no case)."""
    conditions = []
    ids = [str(r) for r in referral_ids or ()]
    if ids:
        conditions.append(cases.c.referral_id.in_(ids))
    if consent_id:
        conditions.append(cases.c.basis == consent_basis(str(consent_id)))
    return conditions


def _lock_cases(session: Session, conditions: list) -> None:
    """Take the row locks of the cases concerned before reading who received data, so a
    delivery being recorded concurrently either is seen here or sees our record (it checks
    for a withdrawal after taking the same lock)."""
    if conditions:
        session.execute(select(cases.c.id).where(or_(*conditions)).with_for_update()).all()


# -- the public interface --------------------------------------------------------------------

def queue_notices(uow, *, kind: str, referral_ids: Iterable[str] | None = None,
                  consent_id: str | None = None, reason: str, now: datetime) -> int:
    """Queue a notice of `kind` for every case of these referrals / relying on this consent
    that reached its partner, whatever its status (accepted, completed, cancelled ...);
    cases already holding a notice of this kind are skipped. Returns how many were queued.
    Runs in the caller's unit of work (commit is the caller's); the case opener loop sends."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    referral_ids = None if referral_ids is None else [str(r) for r in referral_ids]
    _lock_cases(uow.session, _concerning(referral_ids, consent_id))
    queued = 0
    for r in recipients(uow.session, referral_ids=referral_ids, consent_id=consent_id):
        queued += _queue_one(uow.session, r, kind=kind, reason=reason, occurred_at=now,
                             now=uow.clock())
    return queued


def _queue_one(session: Session, r: Recipient, *, kind: str, reason: str,
               occurred_at: datetime, now: datetime) -> int:
    exists = session.execute(select(partner_notices.c.id).where(
        partner_notices.c.case_id == r.case_id, partner_notices.c.kind == kind)).first()
    if exists or not r.partner_case_ref:
        return 0
    notice = PartnerNotice.queued(case_id=r.case_id, referral_id=r.referral_id,
                                  partner=r.partner, partner_case_ref=r.partner_case_ref,
                                  case_key=r.idempotency_key, kind=kind, reason=reason,
                                  occurred_at=occurred_at, now=now)
    session.execute(partner_notices.insert().values(id=str(notice.id), **_values(notice)))
    return 1


def notices_for(session: Session, *, referral_ids: Iterable[str] | None = None,
                case_ids: Iterable[str] | None = None) -> list[PartnerNotice]:
    """The notices of these referrals or cases, oldest first (portal, staff, erasure)."""
    conditions = []
    if referral_ids is not None:
        conditions.append(partner_notices.c.referral_id.in_([str(r) for r in referral_ids]))
    if case_ids is not None:
        conditions.append(partner_notices.c.case_id.in_([str(c) for c in case_ids]))
    if not conditions:
        return []
    return [_notice(r) for r in session.execute(
        select(partner_notices).where(or_(*conditions))
        .order_by(partner_notices.c.created_at, partner_notices.c.id)).all()]


def closes_case(session: Session, case_id: str) -> bool:
    """A portal case is closed for answering once the person withdrew the consent it relied
    on or its data must be erased."""
    return session.execute(select(partner_notices.c.id).where(
        partner_notices.c.case_id == str(case_id))).first() is not None


# -- withdrawn consents ----------------------------------------------------------------------

def record_withdrawal(session: Session, consent_id: str, withdrawn_at: datetime,
                      now: datetime) -> bool:
    """Remember a withdrawn consent (once); False if it was known already."""
    if is_withdrawn(session, consent_id):
        return False
    session.execute(withdrawn_consents.insert().values(
        consent_id=str(consent_id), withdrawn_at=withdrawn_at, recorded_at=now))
    return True


def is_withdrawn(session: Session, consent_id: str | None) -> bool:
    if not consent_id:
        return False
    return session.execute(select(withdrawn_consents.c.consent_id).where(
        withdrawn_consents.c.consent_id == str(consent_id))).first() is not None


# built once, with the consent ids as parameters: the case loop asks for every round, every
# call and every group of answers recorded
_WITHDRAWN_AMONG = select(withdrawn_consents.c.consent_id, withdrawn_consents.c.withdrawn_at) \
    .where(withdrawn_consents.c.consent_id.in_(bindparam("consent_ids", expanding=True)))
_WITHDRAWN = select(withdrawn_consents.c.consent_id).where(
    withdrawn_consents.c.consent_id == bindparam("consent_id"))


def _withdrawn_among(session: Session, consent_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of these consents was withdrawn, for those withdrawn (one statement)."""
    ids = sorted(set(consent_ids))
    if not ids:
        return {}
    return {r.consent_id: r.withdrawn_at
            for r in session.execute(_WITHDRAWN_AMONG, {"consent_ids": ids})}


def withdrawn_bases(session: Session, bases: Iterable[str | None]) -> set[str]:
    """Those of these cases' bases whose consent was withdrawn (never a statutory basis:
    withdrawing a consent does not stop a duty)."""
    consents = {c: b for b in bases if b and (c := relies_on_consent(b))}
    return {consents[c] for c in _withdrawn_among(session, consents)}


def consent_check(engine: Engine) -> Callable[[str | None], bool]:
    """The check before each partner call (handlers.open_partner_cases): is the consent a
    basis relies on withdrawn, as the database says right now? One statement on a
    connection of its own, without a session or unit of work; on PostgreSQL in autocommit,
    one round trip instead of BEGIN, SELECT and ROLLBACK (a lone statement is a transaction
    of its own, reading what was committed before it, as a transaction's first statement
    would). Not on SQLite, whose engine takes the write lock at every BEGIN (shared/db.py)."""
    lone = engine.execution_options(isolation_level="AUTOCOMMIT") if is_postgres(engine) \
        else engine

    def withdrawn_now(basis: str | None) -> bool:
        consent_id = relies_on_consent(basis)
        if consent_id is None:
            return False
        with lone.connect() as conn:
            return conn.execute(_WITHDRAWN, {"consent_id": consent_id}).first() is not None

    return withdrawn_now


def after_delivery(uow, case) -> int:
    """A case was just recorded as delivered: if its consent was withdrawn meanwhile (the
    withdrawal's own handler could not see this delivery yet), the partner is told now.
    Call after saving the case, in the same unit of work."""
    return after_deliveries(uow, [case])


def after_deliveries(uow, delivered: Sequence) -> int:
    """after_delivery for cases recorded as delivered together: their consents' withdrawals
    read in one statement, a notice queued for each case whose consent was withdrawn.
    Returns how many notices were queued."""
    consent_ids = {str(c.id): cid for c in delivered if (cid := relies_on_consent(c.basis))}
    withdrawn = _withdrawn_among(uow.session, consent_ids.values())
    queued = 0
    for case in delivered:
        at = withdrawn.get(consent_ids.get(str(case.id), ""))
        if at is not None:
            queued += queue_notices(uow, kind="consent_withdrawn",
                                    referral_ids=[str(case.referral_id)],
                                    reason="consent_withdrawn", now=at)
    return queued


def follow_consent_withdrawal(envelope: Envelope, uow) -> None:
    """consent.withdrawn: nothing more is delivered on that consent, and every partner that
    already received data on it is told, whatever its case's status."""
    d = envelope.data
    consent_id = str(d["consent_id"])
    withdrawn_at = (datetime.fromisoformat(d["withdrawn_at"]) if d.get("withdrawn_at")
                    else envelope.time)
    record_withdrawal(uow.session, consent_id, withdrawn_at, uow.clock())
    count = queue_notices(uow, kind="consent_withdrawn", consent_id=consent_id,
                          reason="consent_withdrawn", now=withdrawn_at)
    if count:
        log.info("consent withdrawn: partners will be told",
                 extra={"consent_id": consent_id, "notices": count})


# -- sending (the case opener loop) ----------------------------------------------------------

def claim_due(engine: Engine, now: datetime, limit: int, lease_seconds: float) -> list[str]:
    """Lease pending notices whose next attempt is due; several workers may claim at once."""
    t = partner_notices
    return repository.lease(engine, t, and_(t.c.status == "pending", t.c.next_attempt_at <= now),
                            t.c.next_attempt_at, now, limit, lease_seconds)


def _get(session: Session, notice_id: str) -> PartnerNotice | None:
    row = session.execute(select(partner_notices).where(partner_notices.c.id == notice_id)
                          .with_for_update()).first()
    return _notice(row) if row else None


def _save(session: Session, n: PartnerNotice) -> None:
    session.execute(partner_notices.update().where(partner_notices.c.id == str(n.id))
                    .values(lease_until=None, **_values(n)))


def send_notice(notice_id: str, uow_factory: Callable,
                gateways: Mapping[str, PartnerGateway], *,
                guards: PartnerGuards | None = None,
                clock: Callable[[], datetime] = utcnow) -> str:
    """Deliver one due notice, outside any DB transaction, then record it: sent (and
    announced), retry later, or failed for good. Partners without a system see the notice on
    the case in the portal: it counts as delivered at once."""
    with uow_factory() as uow:
        notice = _get(uow.session, notice_id)
    if notice is None or notice.status != "pending":
        return "not pending"
    gateway = gateways.get(notice.partner)
    wait = guards.before(notice.partner, clock()) if guards and gateway else None
    if wait is not None:
        with uow_factory() as uow:
            notice = _get(uow.session, notice_id)
            notice.deferred(*wait, uow.clock())
            _save(uow.session, notice)
            uow.commit()
        return "deferred"
    outcome, error, started = "retry", "", time.perf_counter()
    try:
        if gateway is not None:
            gateway.notify(notice.partner_case_ref, notice.message(), notice.idempotency_key)
        outcome = "sent"
    except PartnerUnavailable as exc:  # also an answer lost: the same key again is harmless
        error = str(exc)
    except PartnerRefused as exc:
        outcome, error = "refused", str(exc)
    finally:
        if guards and gateway:
            guards.after(notice.partner, outcome != "retry", clock())
        if gateway is not None:
            metrics.observe_partner_call(notice.partner, f"notice_{outcome}",
                                         time.perf_counter() - started)
    with uow_factory() as uow:
        notice = _get(uow.session, notice_id)
        if notice.status != "pending":
            return "not pending"
        if outcome == "sent":
            notice.sent(uow.clock())
        elif outcome == "retry":
            log.warning("partner unavailable for a notice, will retry",
                        extra={"partner": notice.partner, "notice_id": notice_id,
                               "reason": error})
            notice.attempt_failed(error, uow.clock())
        else:
            log.error("partner refused a notice; tell it another way",
                      extra={"partner": notice.partner, "notice_id": notice_id,
                             "kind": notice.kind, "reason": error})
            notice.refused(error, uow.clock())
        _save(uow.session, notice)
        for event_type, payload in notice.events:
            uow.emit(event_type, subject=f"partner_case/{notice.case_id}", data=payload)
        uow.commit()
    return "failed" if outcome == "refused" else outcome
