"""Composition root of the operator console."""
from __future__ import annotations

from services.ops import tables
from shared.config import Settings
from shared.service import ServiceDeps, make_deps


def bootstrap(settings: Settings) -> ServiceDeps:
    return make_deps(settings, tables.outbox, tables.inbox)
