"""What Alembic's autogenerate would put into a new migration of a service: used by the tests
that each service's tables.py and its migrations agree (tests/component and tests/integration
test_schema_matches_tables*)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shared.db import make_engine

ROOT = Path(__file__).resolve().parents[1]


def tables_module_alone(service: str) -> ModuleType:
    """A fresh copy of the service's tables.py with a metadata of its own: what the service's
    Alembic env.py sees. (The imported `services.<service>.tables.metadata` may hold more in
    a test run: any module imported earlier could have added a table to it.)"""
    path = ROOT / "services" / service / "tables.py"
    spec = importlib.util.spec_from_file_location(f"_tables_alone_{service}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def proposed_changes(url: str, service: str) -> list[str]:
    """What autogenerate would write into a new migration of `service` for the migrated
    database at `url`, one line per change: empty when tables.py and the migrations agree."""
    metadata = tables_module_alone(service).metadata
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "version_table": f"alembic_version_{service}",  # as shared/migration_env.py
                "compare_type": True,
                "compare_server_default": True,
            })
            # Nothing is ignored, on SQLite or PostgreSQL: for today's tables the comparison
            # proposes no type, nullability, default, index or constraint change on either.
            return describe(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def describe(changes: list) -> list[str]:
    """Autogenerate's answer in one short line per change ("remove_table ops_erased")."""
    lines = []
    for change in changes:
        for op in change if isinstance(change, list) else [change]:  # modify_* come in lists
            if op[0].startswith("modify_"):  # (kind, schema, table, column, kw, old, new)
                lines.append(f"{op[0]} {op[2]}.{op[3]}: {op[-2]!r} -> {op[-1]!r}")
            elif op[0] in ("add_column", "remove_column"):  # (kind, schema, table, Column)
                lines.append(f"{op[0]} {op[2]}.{op[3].name}")
            else:  # (kind, the Table, Index or constraint)
                lines.append(f"{op[0]} {getattr(op[-1], 'name', op[-1])}")
    return lines
