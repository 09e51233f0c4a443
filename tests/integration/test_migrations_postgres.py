"""The same migration check on PostgreSQL."""
from __future__ import annotations

import pytest

from tests.component.test_migrations import upgrade_keeps_intakes
from tests.integration.conftest import PG_ADMIN, fresh_database, require

pytestmark = pytest.mark.integration


def test_upgrading_postgresql_gives_earlier_intakes_a_person_and_a_consent():
    import uuid

    import psycopg

    require("127.0.0.1", 5432, "PostgreSQL")
    name = f"lotse_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade_keeps_intakes(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_an_admin_rule_change_on_postgresql_gets_the_next_version():
    """The seed versions were written by migrations; the serial must continue after them.
    A database of its own: the session's is emptied by other tests, seed versions too."""
    from datetime import datetime, timezone

    from services.referral import repository
    from services.referral.domain import RoutingRule
    from shared.db import make_engine, make_session_factory

    with fresh_database("lotse_rules") as url:
        engine = make_engine(url)
        try:
            with make_session_factory(engine)() as s:
                seeded = repository.current_rules_version(s)
                repository.save_rule(s, RoutingRule("kita-pilot", "kita_place", "jugendamt",
                                                    "kita_portal", 20, "§ 24 SGB VIII",
                                                    districts=("eving",)), exists=False)
                version = repository.add_rule_version(s, "admin", datetime.now(timezone.utc),
                                                      "pilot in Eving")
                s.commit()
                saved = next(r for r in repository.rules(s) if r.id == "kita-pilot")
            assert seeded is not None
            assert version == seeded + 1 and saved.districts == ("eving",)
        finally:
            engine.dispose()
