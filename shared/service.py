"""A service's infrastructure handles, built once per process by its bootstrap."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Table
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.clock import Clock, utcnow
from shared.config import Settings
from shared.db import make_engine, make_session_factory, ping
from shared.uow import UnitOfWork


@dataclass
class ServiceDeps:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    outbox: Table
    inbox: Table
    clock: Clock = utcnow
    relay_wake: threading.Event = field(default_factory=threading.Event)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.outbox, self.inbox,
                          producer=self.settings.service, clock=self.clock,
                          on_commit=self.relay_wake.set)

    def ping_database(self) -> None:
        ping(self.engine)


def make_deps(settings: Settings, outbox: Table, inbox: Table,
              clock: Clock = utcnow) -> ServiceDeps:
    engine = make_engine(settings.database_url)
    return ServiceDeps(settings, engine, make_session_factory(engine), outbox, inbox, clock)


def broker_check(settings: Settings) -> Callable[[], None]:
    """Readiness check of the bus: RabbitMQ answers, or the embedded bus store is reachable."""
    def check() -> None:
        if settings.embedded:
            ping(make_engine_cached(settings.bus_url))
            return
        from shared.bus.amqp import amqp_connection

        with amqp_connection(settings, heartbeat=0) as conn:
            conn.ensure_connection(max_retries=1)
    return check


_engines: dict[str, Engine] = {}


def make_engine_cached(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]
