"""Reading and writing partner cases."""
from __future__ import annotations

import functools
import uuid
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import Table, and_, bindparam, or_, select, tuple_, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.partner_adapter.domain import FINAL_PARTNER_STATUSES, Disclosure, PartnerCase
from services.partner_adapter.tables import disclosures, partner_circuits
from services.partner_adapter.tables import partner_cases as t
from shared.db import UPSERT_INSERTS, UpsertInsert, is_postgres, scan_queue_by_index


def _values(case: PartnerCase) -> dict:
    return dict(referral_id=str(case.referral_id), partner=case.partner, service=case.service,
                idempotency_key=case.idempotency_key, request=case.request, status=case.status,
                partner_case_ref=case.partner_case_ref, partner_status=case.partner_status,
                attempts=case.attempts, next_attempt_at=case.next_attempt_at,
                last_error=case.last_error, created_at=case.created_at,
                updated_at=case.updated_at, reminder_due_at=case.reminder_due_at,
                reminders_sent=case.reminders_sent, last_reminder_at=case.last_reminder_at,
                cancel_due_at=case.cancel_due_at, cancelled_at=case.cancelled_at,
                basis=case.basis, answer_lost=case.answer_lost,
                appointment=case.appointment, next_poll_at=case.next_poll_at,
                flow_correlation_id=case.flow[0] if case.flow else None,
                flow_causation_id=case.flow[1] if case.flow else None)


def _case(row) -> PartnerCase:
    return PartnerCase(id=uuid.UUID(row.id), referral_id=uuid.UUID(row.referral_id),
                       partner=row.partner, service=row.service,
                       idempotency_key=row.idempotency_key, request=row.request,
                       status=row.status, partner_case_ref=row.partner_case_ref,
                       partner_status=row.partner_status, attempts=row.attempts,
                       next_attempt_at=row.next_attempt_at, last_error=row.last_error,
                       created_at=row.created_at, updated_at=row.updated_at,
                       reminder_due_at=row.reminder_due_at, reminders_sent=row.reminders_sent,
                       last_reminder_at=row.last_reminder_at,
                       cancel_due_at=row.cancel_due_at, cancelled_at=row.cancelled_at,
                       basis=row.basis, answer_lost=row.answer_lost,
                       appointment=row.appointment, next_poll_at=row.next_poll_at,
                       flow=((row.flow_correlation_id, row.flow_causation_id)
                             if row.flow_correlation_id else None))


def add_disclosure(session: Session, d: Disclosure) -> None:
    add_disclosures(session, [d])


def add_disclosures(session: Session, ds: Sequence[Disclosure]) -> None:
    """Record what partners received, in one statement however many."""
    if ds:
        session.execute(_ADD_DISCLOSURE, [dict(
            case_id=str(d.case_id), referral_id=str(d.referral_id), partner=d.partner,
            channel=d.channel, fields=list(d.fields), payload_sha256=d.payload_sha256,
            basis=d.basis, disclosed_at=d.disclosed_at) for d in ds])


def disclosures_of(session: Session, referral_id: str) -> list:
    return session.execute(select(disclosures).where(disclosures.c.referral_id == referral_id)
                           .order_by(disclosures.c.id)).all()


# The statements of the event handlers' and the case loop's paths are built once, their
# values passed as parameters: a statement built with the values in it is built and hashed
# anew by SQLAlchemy on every call, which costs more than the database's own work.
_UPDATE = t.update().where(t.c.id == bindparam("case_id"))
_BY_ID_FOR_UPDATE = select(t).where(t.c.id == bindparam("case_id")).with_for_update()
_BY_IDS = select(t).where(t.c.id.in_(bindparam("case_ids", expanding=True))).order_by(t.c.id)
_BY_IDS_FOR_UPDATE = _BY_IDS.with_for_update()
_FOR_REFERRAL = select(t).where(t.c.partner == bindparam("partner"),
                                t.c.referral_id == bindparam("referral_id"))
# (the partner condition on its own lets the database use the (partner, referral) index)
_REQUESTED = select(t.c.partner, t.c.referral_id).where(
    t.c.partner.in_(bindparam("partners", expanding=True)),
    tuple_(t.c.partner, t.c.referral_id).in_(bindparam("pairs", expanding=True)))
_ADD_DISCLOSURE = disclosures.insert()


@functools.cache
def _add_skipping_requested(dialect: str) -> UpsertInsert:
    """Built once per dialect: new cases, skipping any whose (partner, referral) has a case
    (one committed meanwhile by a racing batch)."""
    return UPSERT_INSERTS[dialect](t).on_conflict_do_nothing(
        index_elements=[t.c.partner, t.c.referral_id])


def add(session: Session, case: PartnerCase) -> None:
    session.execute(t.insert(), {"id": str(case.id), **_values(case)})


def add_requested(session: Session, cases: Sequence[PartnerCase]) -> None:
    """Insert new cases in one statement (an executemany), in (partner, referral id) order,
    so two batches asking for the same cases wait for each other instead of deadlocking; a
    case whose partner and referral have one already is skipped. Not a multi-row VALUES
    (SQLAlchemy's "insertmanyvalues", taken for an INSERT with RETURNING): psycopg parses
    such a statement's 1,250 placeholders anew each time, three times the client CPU of
    its pipelined executemany for a batch of 50."""
    if cases:
        statement = _add_skipping_requested(session.get_bind().dialect.name)
        session.execute(statement, [{"id": str(c.id), **_values(c)} for c in
                                    sorted(cases, key=lambda c: (c.partner, str(c.referral_id)))])


def requested(session: Session, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (partner, referral id) pairs have a case (one statement)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return set()
    rows = session.execute(_REQUESTED, {"partners": sorted({p for p, _ in pairs}),
                                        "pairs": pairs})
    return {(row.partner, row.referral_id) for row in rows}


def save(session: Session, case: PartnerCase) -> None:
    save_many(session, [case])


def save_many(session: Session, cases: Sequence[PartnerCase]) -> None:
    """Store changed cases and end their leases, in one statement (an executemany), in id
    order."""
    if cases:
        session.execute(_UPDATE, [{"case_id": str(c.id), "lease_until": None, **_values(c)}
                                  for c in sorted(cases, key=lambda c: str(c.id))])


def get(session: Session, case_id: str) -> PartnerCase | None:
    row = session.execute(_BY_ID_FOR_UPDATE, {"case_id": case_id}).first()
    return _case(row) if row else None


def get_many(session: Session, case_ids: Iterable[str],
             lock: bool = False) -> dict[str, PartnerCase]:
    """Cases by id; `lock` takes their row locks in id order, so two batches cannot
    deadlock."""
    rows = session.execute(_BY_IDS_FOR_UPDATE if lock else _BY_IDS,
                           {"case_ids": [str(i) for i in case_ids]}).all()
    return {row.id: _case(row) for row in rows}


def for_referral(session: Session, partner: str, referral_id: str) -> PartnerCase | None:
    row = session.execute(_FOR_REFERRAL, {"partner": partner,
                                          "referral_id": str(referral_id)}).first()
    return _case(row) if row else None


def by_reference(session: Session, partner: str, case_ref: str | None,
                 client_reference: str | None) -> PartnerCase | None:
    """A partner names its case by its own reference or by our referral id."""
    conditions = []
    if case_ref:
        conditions.append(t.c.partner_case_ref == case_ref)
    if client_reference:
        conditions.append(t.c.referral_id == client_reference)
    if not conditions:
        return None
    row = session.execute(select(t).where(t.c.partner == partner, or_(*conditions))
                          .with_for_update()).first()
    return _case(row) if row else None


def claim_due(engine: Engine, now: datetime, limit: int, lease_seconds: float,
              work: str = "open") -> list[str]:
    """Lease cases with work due: `open` (pending, next attempt due), `remind` or `cancel`
    (open cases with a reminder or cancellation due); several workers may claim at once."""
    waiting = {"open": and_(t.c.status == "pending", t.c.next_attempt_at <= now),
               "remind": and_(t.c.status == "opened", t.c.reminder_due_at <= now),
               "cancel": and_(t.c.status == "opened", t.c.cancel_due_at <= now),
               "poll": and_(t.c.status == "opened", t.c.next_poll_at <= now)}[work]
    return lease(engine, t, waiting, t.c.updated_at, now, limit, lease_seconds)


def lease(engine: Engine, table: Table, waiting, order_by, now: datetime, limit: int,
          lease_seconds: float) -> list[str]:
    """Lease up to `limit` rows of `table` (with `id` and `lease_until`) whose work is
    `waiting` and whose lease lapsed, oldest `order_by` first; returns their ids. Several
    workers may claim at once: on PostgreSQL rows another worker is leasing are skipped."""
    due = (select(table.c.id).where(waiting, or_(table.c.lease_until.is_(None),
                                                 table.c.lease_until < now))
           .order_by(order_by).limit(limit))
    if is_postgres(engine):
        due = due.with_for_update(skip_locked=True)
    with engine.begin() as conn:
        scan_queue_by_index(conn)
        rows = conn.execute(update(table).where(table.c.id.in_(due))
                            .values(lease_until=now + timedelta(seconds=lease_seconds))
                            .returning(table.c.id)).all()
    return [r.id for r in rows]


def schedule_polls(engine: Engine, partners: list[str], now: datetime) -> int:
    """Open cases of partners read by polling that have no read planned (opened before the
    partner was switched to polling) are read now."""
    with engine.begin() as conn:
        return conn.execute(update(t).where(
            t.c.status == "opened", t.c.partner.in_(partners), t.c.next_poll_at.is_(None),
            t.c.cancel_due_at.is_(None), t.c.cancelled_at.is_(None),
            or_(t.c.partner_status.is_(None),
                t.c.partner_status.not_in(FINAL_PARTNER_STATUSES))
        ).values(next_poll_at=now)).rowcount


def give_up_leases(session: Session, case_ids: Iterable[str], held_until: datetime) -> None:
    """End the leases a round holds on these pending cases, so the next round takes them:
    only leases still ours (ending by `held_until`), never one another opener took since."""
    session.execute(update(t).where(
        t.c.id.in_([str(i) for i in case_ids]), t.c.status == "pending",
        t.c.lease_until.is_not(None), t.c.lease_until <= held_until).values(lease_until=None))


def release_leases(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.lease_until.is_not(None)).values(lease_until=None))


def listing(session: Session, partner: str | None = None, limit: int = 200) -> list[PartnerCase]:
    query = select(t).order_by(t.c.created_at.desc()).limit(limit)
    if partner:
        query = query.where(t.c.partner == partner)
    return [_case(r) for r in session.execute(query).all()]


def save_circuit_states(engine: Engine, process: str, states: dict, now: datetime) -> None:
    """Replace this process's view of its partners' circuits (for the operator console)."""
    t = partner_circuits
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.process == process))
        if states:
            conn.execute(t.insert(), [
                {"partner": p, "process": process, "state": state, "failures": failures,
                 "open_until": until, "updated_at": now}
                for p, (state, failures, until) in states.items()])
