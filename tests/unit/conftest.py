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
