"""Idempotency-Key of POST /api/v1/intakes: a client that lost the answer repeats the request
with the same key and gets the same 201, and no second intake is recorded.

A key belongs to the user who sent it. It is claimed in the transaction that records the
intake, by inserting its row: a second request with the same key waits on that row until the
first commits (PostgreSQL's unique index; SQLite takes its write lock at BEGIN) and then finds
it. If the first rolls back, its claim goes with it and the second records the intake.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.intake.tables import intake_idempotency_keys as keys
from shared.db import upsert_insert

class KeyConflict(Exception):
    """The key was used for another request (or its intake was erased): 409."""


@dataclass(frozen=True)
class IdempotencyKey:
    username: str
    key: str
    body_hash: str


def body_hash(body) -> str:
    """SHA-256 of the body in canonical JSON: the same content in another key order or
    spacing is the same request."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def claim(session: Session, key: IdempotencyKey, now: datetime) -> str | None:
    """Claim the key in the caller's transaction. None: first use, go ahead and `attach` the
    intake. Otherwise the id of the intake recorded with it before (same body)."""
    insert = upsert_insert(session, keys).on_conflict_do_nothing()
    claimed = session.execute(insert.values(
        username=key.username, key=key.key, body_hash=key.body_hash, created_at=now)
        .returning(keys.c.key)).first()
    if claimed is not None:
        return None
    earlier = session.execute(select(keys.c.body_hash, keys.c.intake_id).where(
        keys.c.username == key.username, keys.c.key == key.key)).one()
    if earlier.intake_id is None:
        raise KeyConflict("the intake recorded with this Idempotency-Key was erased; "
                          "use a new key to record a new intake")
    if earlier.body_hash != key.body_hash:
        raise KeyConflict("this Idempotency-Key was used with another body: repeat the "
                          "request unchanged, or use a new key for a new intake")
    return earlier.intake_id


def attach(session: Session, key: IdempotencyKey, intake_id: str) -> None:
    session.execute(update(keys).where(keys.c.username == key.username, keys.c.key == key.key)
                    .values(intake_id=intake_id))


def forget_intakes(session: Session, intake_ids: list[str]) -> None:
    """Erasure: the keys of erased intakes keep nothing that leads to the person."""
    session.execute(update(keys).where(keys.c.intake_id.in_(intake_ids))
                    .values(intake_id=None, body_hash=None))
