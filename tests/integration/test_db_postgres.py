"""The engine on PostgreSQL: a connection idle a while is pinged before use, and replaced if
the server dropped it; one back in use at once is not (a ping per transaction cost a busy
worker a sixth of its time)."""
from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import text

from shared import db
from tests.integration.conftest import PG_ADMIN

pytestmark = pytest.mark.integration


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(pg_url):
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        first = backend_pid(engine)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:  # e.g. a server restart
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)
        assert backend_pid(engine) != first  # no error: the ping found it dead
    finally:
        engine.dispose()


def test_a_connection_back_in_use_at_once_is_not_pinged_but_an_idle_one_is(pg_url,
                                                                            monkeypatch):
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    pings = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(1) or ping(conn))
    try:
        for _ in range(5):
            backend_pid(engine)
        assert pings == []
        time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)
        backend_pid(engine)
        assert pings == [1]
    finally:
        engine.dispose()
