"""Alembic environment of the partner sandbox."""
from services.partner_sandbox.tables import metadata
from shared.migration_env import run

run("partner_sandbox", metadata)
