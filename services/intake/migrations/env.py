"""Alembic environment of the intake service."""
from services.intake.tables import metadata
from shared.migration_env import run

run("intake", metadata)
