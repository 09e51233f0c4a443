"""The same migration check on PostgreSQL."""
from __future__ import annotations

import pytest

from tests.component.test_migrations import upgrade_keeps_intakes
from tests.integration.conftest import PG_ADMIN, require

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
