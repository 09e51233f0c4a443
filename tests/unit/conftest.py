"""Fixtures of the unit tests that read a service's migrated tables."""
from __future__ import annotations

import pytest

from services.referral.domain import RoutingRule


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> list[RoutingRule]:
    """The routing table exactly as the referral service's migrations leave it."""
    from services.referral import repository
    from shared.db import make_engine, make_session_factory, migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('rules') / 'referral.db'}"
    migrate("referral", url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        rules = repository.rules(session)
    engine.dispose()
    return rules


@pytest.fixture
def reporting_uow():
    """The reporting service's handler state on a fresh in-memory database, behind the fake
    unit of work (with the keyer the service's own unit of work carries)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session
    from sqlalchemy.pool import StaticPool

    from services.reporting.domain import Keyer
    from services.reporting.tables import metadata
    from tests.fakes import FakeUnitOfWork

    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    with Session(engine) as session:
        uow = FakeUnitOfWork(session, producer="reporting")
        uow.key = Keyer(b"unit test key")
        yield uow
    engine.dispose()
