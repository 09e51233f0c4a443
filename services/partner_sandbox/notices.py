"""Notices the stand-in partner systems received about their cases (consent withdrawn, erase
the data): stored once per idempotency key, every delivery counted, so a test sees a retried
notice arrive exactly once."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.partner_sandbox.store import stored_under_key
from services.partner_sandbox.tables import sandbox_cases, sandbox_notices
from shared.clock import utcnow


def add_notice(engine: Engine, partner: str, reference: str, key: str, kind: str,
               body: dict) -> tuple[dict, bool] | None:
    """Record a notice once per key; (notice, created), None when the case is unknown."""
    t = sandbox_notices
    with engine.begin() as conn:
        case = conn.execute(select(sandbox_cases.c.reference).where(
            sandbox_cases.c.partner == partner, sandbox_cases.c.reference == reference)).first()
        if case is None:
            return None
        seen = stored_under_key(conn, t, partner, key, counter="deliveries")
        if seen is not None:
            return seen, False
    notice = dict(partner=partner, case_reference=reference, idempotency_key=key, kind=kind,
                  body=body, deliveries=1, received_at=utcnow())
    try:
        with engine.begin() as conn:
            conn.execute(t.insert().values(**notice))
    except IntegrityError:  # a concurrent delivery with the same key won
        return add_notice(engine, partner, reference, key, kind, body)
    return notice, True


def notices(engine: Engine, partner: str | None = None,
            reference: str | None = None) -> list[dict]:
    t = sandbox_notices
    query = select(t).order_by(t.c.id)
    if partner:
        query = query.where(t.c.partner == partner)
    if reference:
        query = query.where(t.c.case_reference == reference)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query).all()]
