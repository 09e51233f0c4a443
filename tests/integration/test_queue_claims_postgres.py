"""Claiming work from a queue table stays cheap after many rows left it (PostgreSQL).

A row leaving an outbox (pending -> sent) leaves a dead entry in the outbox's pending index
until VACUUM runs. In a surge autovacuum runs about once a minute, so a claim read through a
bitmap scan visited the heap page of every such entry: ~10 ms per claim after 30,000 sent
events, the largest share of the database's CPU in `make bench`. Claims read the index with
plain index scans (shared/db.py scan_queue_by_index), which mark dead entries as they meet them.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

import sqlalchemy as sa

from services.intake.bootstrap import bootstrap
from shared.db import scan_queue_by_index
from shared.outbox import OutboxRelay
from tests.conftest import embedded_settings
from tests.fakes import RecordingPublisher

SENT, PENDING = 3000, 5


def _plan(conn, relay: OutboxRelay) -> str:
    compiled = relay._claim.compile(dialect=conn.dialect)
    now = relay.clock()
    params = {**compiled.params, "now": now, "until": now + timedelta(seconds=30)}
    rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + str(compiled), params)
    return "\n".join(r[0] for r in rows)


def test_a_claim_after_thousands_of_sent_events_reads_few_pages(tmp_path, pg_url, clean_tables):
    settings = replace(embedded_settings(tmp_path).for_service("intake"), database_url=pg_url)
    deps = bootstrap(settings)
    relay = OutboxRelay(deps.engine, deps.outbox, RecordingPublisher())
    t, now = deps.outbox, relay.clock()

    def rows(n: int) -> list[dict]:
        return [dict(event_id=str(uuid.uuid4()), event_type="person.erased",
                     routing_key="person.erased", correlation_id=str(uuid.uuid4()),
                     body="{}" + " " * 500, status="pending", attempts=0,
                     next_attempt_at=now, created_at=now) for _ in range(n)]
    try:
        with deps.engine.begin() as conn:
            conn.execute(t.insert(), rows(SENT))
            # autovacuum off for the table: the dead entries stay, as in a surge
            conn.exec_driver_sql(f"ALTER TABLE {t.name} SET (autovacuum_enabled = false)")
        with deps.engine.begin() as conn:
            conn.execute(sa.update(t).values(status="sent", sent_at=now))
        with deps.engine.begin() as conn:
            conn.execute(t.insert(), rows(PENDING))

        with deps.engine.begin() as conn:
            scan_queue_by_index(conn)
            first = _plan(conn, relay)  # meets the dead entries once, and marks them
            conn.rollback()
        with deps.engine.begin() as conn:
            scan_queue_by_index(conn)
            plan = _plan(conn, relay)
            assert "Bitmap" not in plan, plan
            conn.rollback()
        with deps.engine.begin() as conn:  # the setting ends with the transaction
            assert conn.exec_driver_sql("SHOW enable_bitmapscan").scalar() == "on"
        assert "Bitmap" not in first, first
        # the second claim no longer visits a heap page per sent row
        hits = [int(part.split("=")[1].split()[0]) for line in plan.splitlines()
                if "Buffers: shared hit=" in line for part in [line.strip()]]
        assert max(hits) < SENT / 10, plan
        assert len(relay.claim()) == PENDING
    finally:
        with deps.engine.begin() as conn:
            conn.exec_driver_sql(f"ALTER TABLE {t.name} RESET (autovacuum_enabled)")
        deps.engine.dispose()
