"""Alembic environment of the partner adapter."""
from services.partner_adapter.tables import metadata
from shared.migration_env import run

run("partner_adapter", metadata)
