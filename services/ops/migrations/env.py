"""Alembic environment of the ops service."""
from services.ops.tables import metadata
from shared.migration_env import run

run("ops", metadata)
