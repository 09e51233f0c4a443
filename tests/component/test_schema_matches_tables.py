"""Each service's `tables.py` holds all its tables, exactly as its migrations build them.

Alembic's env.py of a service imports only `services/<service>/tables.py`, so a table built in
any other module is invisible to `alembic revision --autogenerate`, which then proposes to drop
it (issue 18). Per service: migrate a fresh database to head and ask Alembic's autogenerate
comparison what it would change; the answer must be nothing. The same runs on PostgreSQL in
tests/integration/test_schema_matches_tables_postgres.py.
"""
from __future__ import annotations

import importlib
import pkgutil

import pytest

from shared.config import SERVICES
from shared.db import migrate
from tests.schema_drift import proposed_changes, tables_module_alone


def service_modules(service: str):
    """Every module of the service's package except its migrations and `__main__`."""
    package = importlib.import_module(f"services.{service}")
    for info in pkgutil.walk_packages(package.__path__, f"services.{service}."):
        if ".migrations" in info.name or info.name.endswith(".__main__"):
            continue
        yield info.name


@pytest.mark.parametrize("service", SERVICES)
def test_autogenerate_proposes_nothing_for_a_database_migrated_to_head(tmp_path, service):
    url = f"sqlite:///{tmp_path / f'{service}.db'}"
    migrate(service, url)
    assert proposed_changes(url, service) == []


@pytest.mark.parametrize("service", SERVICES)
def test_no_other_module_adds_a_table_to_the_service_s_metadata(service):
    """The other half: a table built elsewhere on the service's metadata (and not in
    tables.py) would be created by `create_all` in tests yet never get a migration."""
    for name in service_modules(service):
        importlib.import_module(name)
    metadata = importlib.import_module(f"services.{service}.tables").metadata
    assert set(metadata.tables) - set(tables_module_alone(service).metadata.tables) == set()
