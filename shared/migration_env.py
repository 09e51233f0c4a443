"""The Alembic environment every service's migrations/env.py delegates to."""
from __future__ import annotations

import json
from typing import Any

from alembic import context
from sqlalchemy import Connection, MetaData, Table, select

from shared.db import make_engine


def run(service: str, metadata: MetaData) -> None:
    """Run migrations online with a version table of the service's own."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:  # shared/db.py's migrate sets it; an alembic.ini must name it
        raise RuntimeError(f"{service} migrations: no sqlalchemy.url configured")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          version_table=f"alembic_version_{service}",
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()


def json_rows(connection: Connection, table_name: str,
              order_by: str = "id") -> list[dict[str, Any]]:
    """A table's rows as JSON values, as a data migration finds them (reflected, not the
    service's models of today): dates as ISO text, JSON columns decoded (SQLite hands them
    back as text). For migrations that keep a snapshot of what they changed."""
    table = Table(table_name, MetaData(), autoload_with=connection)
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else
                 json.loads(v) if isinstance(v, str) and v[:1] == "[" else v)
             for k, v in row.items()}
            for row in connection.execute(select(table).order_by(table.c[order_by])).mappings()]
