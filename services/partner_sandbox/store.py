"""Sandbox cases, behaviour switches and the callback queue."""
from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Table, bindparam, exists, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Executable

from services.partner_sandbox.systems import REGISTRATION_DOCUMENTS, SYSTEMS
from services.partner_sandbox.tables import (sandbox_behaviour, sandbox_callbacks, sandbox_cases,
                                             sandbox_keys)
from shared.clock import CITY_TIME, utcnow
from shared.db import UPSERT_INSERTS, is_postgres
from shared.reference import EU_EEA_CH

MODES = ("ok", "fail", "timeout", "slow")
# what "completed" means in each partner system
COMPLETION_OUTCOMES = {"welfare": "counselling_started", "jobcenter": "application_filed",
                       "registration": "appointment_kept", "wohnungsamt": "application_filed"}


def behaviour(engine: Engine, partner: str, default_auto: float | None) -> dict:
    with engine.connect() as conn:
        row = conn.execute(select(sandbox_behaviour)
                           .where(sandbox_behaviour.c.partner == partner)).first()
    if row is None:
        return {"partner": partner, "mode": "ok", "delay_seconds": 0.0,
                "auto_accept_seconds": default_auto}
    return dict(row._mapping)


def set_behaviour(engine: Engine, partner: str, mode: str, delay_seconds: float,
                  auto_accept_seconds: float | None) -> None:
    values = dict(mode=mode, delay_seconds=delay_seconds, auto_accept_seconds=auto_accept_seconds)
    with engine.begin() as conn:
        done = conn.execute(update(sandbox_behaviour)
                            .where(sandbox_behaviour.c.partner == partner).values(**values))
        if done.rowcount == 0:
            conn.execute(sandbox_behaviour.insert().values(partner=partner, **values))


def create_case(engine: Engine, partner: str, key: str, request: dict,
                status: str = "new") -> tuple[dict, bool]:
    """The same idempotency key yields the same case; returns (case, created)."""
    with engine.begin() as conn:
        for _ in range(5):
            case = _new_case(partner, key, request, status)
            if conn.execute(_statements(engine.dialect.name).insert_case, case).rowcount == 1:
                return case, True
            # a case under this key already, or (once in 4 billion) the reference is taken;
            # a concurrent insert of the same key is waited for, so its case is seen here
            seen = stored_under_key(conn, sandbox_cases, partner, key, counter="posts")
            if seen is not None:
                return seen, False
    raise RuntimeError(f"no free case reference for {partner}")


def create_case_when_ok(engine: Engine, partner: str, key: str, request: dict,
                        status: str = "new") -> dict | None:
    """A new case in one statement (one round trip on PostgreSQL): stored if the partner
    system works (behaviour "ok", read in the same statement, so a switch made by any process
    counts at once) and the key is new; None otherwise, and nothing stored: then play the
    behaviour and create_case."""
    case = _new_case(partner, key, request, status)
    with _single_statements(engine).begin() as conn:
        stored = conn.execute(_statements(engine.dialect.name).insert_case_when_ok,
                              case).rowcount == 1
    return case if stored else None


def _new_case(partner: str, key: str, request: dict, status: str) -> dict:
    system = SYSTEMS[partner]
    now = utcnow()
    return dict(reference=f"{system.prefix}-{now:%Y}-{secrets.token_hex(4).upper()}",
                partner=partner, idempotency_key=key,
                client_reference=system.client_reference(request), request=request,
                status=status, posts=1, created_at=now, updated_at=now,
                appointment=book_slot(request, now) if system.books_appointments else None)


def _single_statements(engine: Engine) -> Engine:
    """The engine for a transaction of one statement: on PostgreSQL its connections commit each
    statement by itself (no BEGIN and COMMIT round trips); SQLite has no round trips to save
    and keeps make_engine's BEGIN IMMEDIATE."""
    return _autocommitting(engine) if is_postgres(engine) else engine


@lru_cache(maxsize=8)  # one per engine, made once, not per request
def _autocommitting(engine: Engine) -> Engine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


@dataclass(frozen=True)
class _Statements:
    """The statements of a case creation, built once per dialect: built per call, they and
    their cache keys were a good part of the sandbox's CPU under make bench."""

    insert_case: Executable
    insert_case_when_ok: Executable


CASE_COLUMNS = ("reference", "partner", "idempotency_key", "client_reference", "request",
                "status", "posts", "created_at", "updated_at", "appointment")


@lru_cache(maxsize=None)
def _statements(dialect: str) -> _Statements:
    t, b = sandbox_cases, sandbox_behaviour
    insert = UPSERT_INSERTS[dialect]
    misbehaving = exists().where(b.c.partner == bindparam("partner"), b.c.mode != "ok")
    new_case = select(*(bindparam(c, type_=t.c[c].type) for c in CASE_COLUMNS)
                      ).where(~misbehaving)
    # ON CONFLICT without a target: a key seen before and a reference taken both store nothing,
    # which the row count tells (SQLAlchemy keeps an INSERT's only with preserve_rowcount)
    counted = {"preserve_rowcount": True}
    return _Statements(
        insert_case=insert(t).on_conflict_do_nothing().execution_options(**counted),
        insert_case_when_ok=insert(t).from_select(CASE_COLUMNS, new_case)
        .on_conflict_do_nothing().execution_options(**counted))


def stored_under_key(conn, table: Table, partner: str, key: str, counter: str) -> dict | None:
    """What this partner system stored under this idempotency key, with its `counter` of
    arrivals counted up; None for a new key."""
    row = conn.execute(_counted_up(table, counter),
                       {"stored_partner": partner, "stored_key": key}).first()
    return None if row is None else dict(row._mapping)


@lru_cache(maxsize=None)
def _counted_up(table: Table, counter: str) -> Executable:
    return (update(table)
            .where(table.c.partner == bindparam("stored_partner"),
                   table.c.idempotency_key == bindparam("stored_key"))
            .values({counter: table.c[counter] + 1}).returning(*table.c))


def book_slot(request: dict, now: datetime) -> dict:
    """A free slot on one of the next working days, at the office for the person's
    nationality (the sandbox's stand-in for a real appointment calendar)."""
    local = now.astimezone(CITY_TIME)
    day = local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    minutes = 8 * 60 + 15 * secrets.randbelow(28)  # 08:00 .. 14:45
    starts = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60,
                      tzinfo=CITY_TIME)
    persons = request.get("persons") or [{}]
    eu = (persons[0].get("nationality") or "") in EU_EEA_CH
    return {"starts_at": starts.isoformat(),
            "location": "Bürgerdienste, Dortmund" if eu
            else "Bürgerdienste International, Dortmund",
            "bring": list(REGISTRATION_DOCUMENTS)}


def find_cases(engine: Engine, partner: str | None = None,
               client_reference: str | None = None) -> list[dict]:
    query = select(sandbox_cases).order_by(sandbox_cases.c.created_at.desc())
    if partner:
        query = query.where(sandbox_cases.c.partner == partner)
    if client_reference:
        query = query.where(sandbox_cases.c.client_reference == client_reference)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]


def submit(engine: Engine, partner: str, reference: str, data: dict) -> dict | None:
    """An announced submission receives its (decrypted) data and becomes a new case; doing it
    again changes nothing (the sender may repeat a submission whose answer it lost)."""
    t = sandbox_cases
    with engine.begin() as conn:
        row = conn.execute(select(t).where(t.c.partner == partner, t.c.reference == reference)
                           ).first()
        if row is None:
            return None
        if row.status == "announced":
            conn.execute(update(t).where(t.c.reference == reference).values(
                request={**row.request, "data": data}, status="new", updated_at=utcnow()))
        else:
            conn.execute(update(t).where(t.c.reference == reference)
                         .values(posts=t.c.posts + 1))
    return find_case(engine, partner, reference)


def find_case(engine: Engine, partner: str, reference: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(select(sandbox_cases).where(sandbox_cases.c.partner == partner,
                                                       sandbox_cases.c.reference == reference)
                           ).first()
    return dict(row._mapping) if row else None


def destination_key(engine: Engine, partner: str, make) -> dict:
    """The destination's private key (JWK), made on first use and kept, so every sandbox
    process decrypts with the same key."""
    with engine.connect() as conn:
        row = conn.execute(select(sandbox_keys).where(sandbox_keys.c.partner == partner)
                           ).first()
    if row is not None:
        return row.private_jwk
    key = make()
    try:
        with engine.begin() as conn:
            conn.execute(sandbox_keys.insert().values(partner=partner, kid=key["kid"],
                                                      private_jwk=key, created_at=utcnow()))
    except IntegrityError:  # another process made one first: use that one
        return destination_key(engine, partner, make)
    return key


def stats(engine: Engine) -> dict:
    t = sandbox_cases
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.partner, func.count(), func.sum(t.c.posts))
                            .group_by(t.c.partner)).all()
    return {p: {"cases": n, "posts": int(posts or 0)} for p, n, posts in rows}


def change_status(engine: Engine, partner: str, reference: str, status: str,
                  reason: str | None = None) -> bool:
    """The partner's staff move their case; Lotse hears about it through a callback."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(select(sandbox_cases).where(sandbox_cases.c.partner == partner,
                                                       sandbox_cases.c.reference == reference)
                           ).first()
        if row is None:
            return False
        conn.execute(update(sandbox_cases).where(sandbox_cases.c.reference == reference)
                     .values(status=status, updated_at=now))
        outcome = COMPLETION_OUTCOMES.get(partner, "case_closed") \
            if status == "completed" else None
        conn.execute(update(sandbox_cases).where(sandbox_cases.c.reference == reference)
                     .values(reason=reason, outcome=outcome))
        if not SYSTEMS[partner].sends_callbacks:
            return True  # Lotse reads the status through the read API
        body = {"event_id": str(uuid.uuid4()), "case_reference": reference,
                "client_reference": row.client_reference or None, "status": status,
                "reason": reason, "occurred_at": now.isoformat()}
        if outcome:
            body["outcome"] = outcome
        conn.execute(sandbox_callbacks.insert().values(
            partner=partner, body=json.dumps(body), status="pending", attempts=0,
            next_attempt_at=now))
    return True


def due_auto_accepts(engine: Engine, default_auto: float | None) -> list[tuple[str, str]]:
    now = utcnow()
    out = []
    for partner in SYSTEMS:
        wait = behaviour(engine, partner, default_auto)["auto_accept_seconds"]
        if wait is None:
            continue
        with engine.connect() as conn:
            rows = conn.execute(select(sandbox_cases.c.reference)
                                .where(sandbox_cases.c.partner == partner,
                                       sandbox_cases.c.status == "new",
                                       sandbox_cases.c.created_at <= now - timedelta(
                                           seconds=wait))).all()
        out += [(partner, r.reference) for r in rows]
    return out


def due_callbacks(engine: Engine, limit: int = 50) -> list:
    with engine.connect() as conn:
        return conn.execute(select(sandbox_callbacks)
                            .where(sandbox_callbacks.c.status == "pending",
                                   sandbox_callbacks.c.next_attempt_at <= utcnow())
                            .order_by(sandbox_callbacks.c.id).limit(limit)).all()


def callback_done(engine: Engine, callback_id: int, ok: bool, attempts: int,
                  error: str | None, now: datetime, refused: bool = False) -> None:
    """A callback sent: delivered, refused for good (Lotse answered 4xx), or tried again
    later (growing delays, at most a minute)."""
    values = ({"status": "delivered", "attempts": attempts} if ok else
              {"status": "refused", "attempts": attempts, "last_error": error} if refused else
              {"attempts": attempts, "last_error": error,
               "next_attempt_at": now + timedelta(seconds=min(60, 2 ** attempts))})
    with engine.begin() as conn:
        conn.execute(update(sandbox_callbacks).where(sandbox_callbacks.c.id == callback_id)
                     .values(**values))


def add_reminder(engine: Engine, partner: str, reference: str, key: str) -> int | None:
    """Record a reminder once per idempotency key; the number of reminders, None: no case."""
    with engine.begin() as conn:
        row = conn.execute(select(sandbox_cases).where(sandbox_cases.c.partner == partner,
                                                       sandbox_cases.c.reference == reference)
                           ).first()
        if row is None:
            return None
        keys = list(row.reminder_keys or [])
        if key not in keys:
            keys.append(key)
            conn.execute(update(sandbox_cases).where(sandbox_cases.c.reference == reference)
                         .values(reminder_keys=keys, updated_at=utcnow()))
        return len(keys)


def withdraw_case(engine: Engine, partner: str, reference: str) -> bool:
    """The referrer withdrew the referral: the case is closed on their side (no callback)."""
    with engine.begin() as conn:
        done = conn.execute(update(sandbox_cases).where(sandbox_cases.c.partner == partner,
                                                        sandbox_cases.c.reference == reference)
                            .values(status="withdrawn", updated_at=utcnow()))
    return done.rowcount == 1
