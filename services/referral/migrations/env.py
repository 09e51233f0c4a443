"""Alembic environment of the referral service."""
from services.referral.tables import metadata
from shared.migration_env import run

run("referral", metadata)
