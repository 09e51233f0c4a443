"""Fixtures on the real servers of this machine: a fresh PostgreSQL database per session and a
unique bus prefix per test. With CI set, an unreachable server fails the run, never skips."""
from __future__ import annotations

import contextlib
import socket
import uuid
from dataclasses import replace

import psycopg
import pytest
from kombu import Connection

from services import registry
from shared.config import SERVICES
from shared.db import migrate
from tests.conftest import embedded_settings, in_ci

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def require(host: str, port: int, what: str) -> None:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        message = f"{what} at {host}:{port} is unreachable ({exc}); `make services` starts it"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def fresh_database(prefix: str = "lotse_it", services=SERVICES):
    """A new PostgreSQL database with the services' migrations, dropped afterwards."""
    require("127.0.0.1", 5432, "PostgreSQL")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        for service in services:
            migrate(service, url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url():
    with fresh_database() as url:
        yield url


def require_amqp(url: str) -> None:
    """The broker answers the AMQP handshake within seconds: a wedged one (port open, no
    answer) fails the test at once with that cause, instead of kombu retrying until the
    test's time limit."""
    try:
        with Connection(url, connect_timeout=5, transport_options={"max_retries": 1}) as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:
        message = (f"RabbitMQ at {url} accepts connections but does not complete the AMQP "
                   f"handshake ({type(exc).__name__}: {exc}); restart it (`make services`)")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def broker_url():
    require("127.0.0.1", 5672, "RabbitMQ")
    require_amqp(BROKER_URL)
    return BROKER_URL


@pytest.fixture
def prefix(broker_url):
    """A bus namespace of this test's own; its queues and exchanges are deleted afterwards."""
    name = f"it{uuid.uuid4().hex[:8]}"
    yield name
    delete_bus_objects(broker_url, name)


def delete_bus_objects(broker_url: str, name: str, extra_delays=()) -> None:
    with Connection(broker_url) as conn:
        channel = conn.channel()
        for delays in ((0.2, 0.4), (1.0, 5.0, 30.0, 120.0, 600.0), *extra_delays):
            from shared.bus.topology import build_topology

            topo = build_topology(name, registry.SUBSCRIPTIONS, delays)
            for spec in topo.queue_specs():
                channel.queue_delete(spec["name"])
            for spec in topo.exchange_specs():
                channel.exchange_delete(spec["name"])
        channel.close()


@pytest.fixture
def pg_settings(tmp_path, pg_url, broker_url, prefix):
    return replace(embedded_settings(tmp_path), database_url=pg_url, broker_url=broker_url,
                   bus_prefix=prefix, retry_delays=(0.2, 0.4), max_attempts=3,
                   confirm_timeout=5.0, worker_threads=4)


@pytest.fixture
def clean_tables(pg_url):
    """Tests share the session's database: empty every table before each test."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' "
            "AND tablename NOT LIKE 'alembic_version%' AND tablename <> 'routing_rules'"))]
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
