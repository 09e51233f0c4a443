"""Alembic environment of the reporting service."""
from services.reporting.tables import metadata
from shared.migration_env import run

run("reporting", metadata)
