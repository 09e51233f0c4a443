"""Database plumbing: engines, UTC timestamps, naming conventions and per-service migrations."""
from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import JSON, DateTime, MetaData, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlalchemy.types import TypeDecorator

from shared.private_files import touch_private

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (portable to SQLite), always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is timezone.utc:  # the services' clocks: no conversion needed
            return value.replace(tzinfo=None)
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


JSONDocument = JSON()


# A pooled connection idle this long is pinged before use; one back sooner is not: a server
# restart takes seconds, and a ping per transaction cost a busy worker a sixth of its time.
PING_AFTER_IDLE_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 10


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for its backend: WAL and a busy timeout on SQLite; on servers, a ping
    before using a connection idle PING_AFTER_IDLE_SECONDS or longer. A failed ping recycles
    the whole pool; a connection back sooner is used as it is, and should the server have
    dropped it meanwhile, that first use fails (a bus handler retries, a request gets an error)
    and the pool is recycled then."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            touch_private(Path(path))
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                               json_serializer=_dumps, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # SQLite: take the write lock at BEGIN so concurrent writers queue instead of failing
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # a server that does not answer fails the connect within seconds, not the kernel's minutes
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, json_serializer=_dumps, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _note_use(_dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry,
                      _proxy: PoolProxiedConnection) -> None:
        if time.monotonic() - record.info.get("used_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # like pool_pre_ping: older connections are recycled too
            raise InvalidatePoolError(str(exc)) from exc

    return engine


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _sqlite_pragmas(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    # deleted rows are overwritten, not left in free pages: erasure (Art. 17) means gone
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()


# INSERT with ON CONFLICT, for the two dialects Lotse runs on (PostgreSQL, SQLite)
UpsertInsert = postgresql.Insert | sqlite.Insert
UPSERT_INSERTS: dict[str, Callable[[Table], UpsertInsert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


def upsert_insert(session: Session, table: Table) -> UpsertInsert:
    """An INSERT of `table` that can say ON CONFLICT DO NOTHING / DO UPDATE (both dialects)."""
    return UPSERT_INSERTS[session.get_bind().dialect.name](table)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


_NO_BITMAP_SCANS = text("SET LOCAL enable_bitmapscan = off")


def scan_queue_by_index(conn: Connection) -> None:
    """For the rest of this transaction (PostgreSQL), read a work queue's index with plain
    index scans. A row leaving the queue (pending -> sent) leaves a dead entry in the
    queue's index until VACUUM; a bitmap scan reads the heap page of every such entry on
    every claim (a surge: ~30,000 of them, ~10 ms per claim), while a plain index scan
    marks them dead as it meets them, so later claims skip them."""
    if conn.dialect.name == "postgresql":
        conn.execute(_NO_BITMAP_SCANS)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def migrate(service: str, url: str) -> None:
    """Bring a service's tables to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent / "services" / service / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(root))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["service"] = service
    command.upgrade(cfg, "head")
