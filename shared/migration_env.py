"""The Alembic environment every service's migrations/env.py delegates to."""
from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData

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
