"""The stand-in partner systems as good partners: on an erasure notice (Art. 17(2), 19) they
erase what they hold of the person, keeping the case's reference, status and the notice."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.engine import Engine

from services.partner_sandbox.tables import sandbox_cases
from shared.clock import utcnow
from shared.erasure import truncate_wal


def erase_case(engine: Engine, partner: str, reference: str) -> bool:
    """Empty the case's request (the person's data) and what the partner added about them;
    then no copy stays in the write-ahead log either (busy: raises, the sender retries)."""
    t = sandbox_cases
    with engine.begin() as conn:
        result = conn.execute(update(t).where(t.c.partner == partner, t.c.reference == reference)
                              .values(request={"erased": True}, appointment=None, reason=None,
                                      updated_at=utcnow()))
    truncate_wal(engine)
    return bool(result.rowcount)
