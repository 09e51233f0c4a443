"""Applying the retention schedule: per service, daily in its worker, or by `lotse retention`.

    lotse retention run [--dry-run] [--service S]   a table of categories and rows due/handled
"""
from __future__ import annotations

import sys
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING

from shared.config import Settings
from shared.retention import (SERVICES, Outcome, Purge, RetentionScheduler, apply_schedule,
                              check_coverage, load_schedule, render_table)

if TYPE_CHECKING:  # not at import: `lotse serve` must set up multiprocess metrics first
    from shared.service import ServiceDeps


def purges_of(service: str, deps: ServiceDeps) -> dict[str, Purge]:
    return import_module(f"services.{service}.retention").purges(deps)


def job(service: str, deps: ServiceDeps, settings: Settings):
    """The schedule checked against the service's code (at start: a mismatch stops it), and
    the function that applies it as of a given moment."""
    schedule = load_schedule(settings.retention_file)
    purges = purges_of(service, deps)
    check_coverage(schedule, service, purges)

    def run(now: datetime, dry_run: bool = False) -> list[Outcome]:
        return apply_schedule(schedule, service, purges, now, dry_run)
    return run


def scheduler(service: str, deps: ServiceDeps, settings: Settings) -> RetentionScheduler:
    return RetentionScheduler(service, job(service, deps, settings), deps.clock,
                              settings.retention_interval_seconds)


def add_parser(sub) -> None:
    p = sub.add_parser("retention", help="apply the retention schedule "
                                           "($LOTSE_RETENTION_FILE or the shipped one)")
    actions = p.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="delete or anonymise what is due now")
    run.add_argument("--dry-run", action="store_true", help="only count what is due")
    run.add_argument("--service", choices=SERVICES, help="one service (default: all)")
    run.set_defaults(func=cmd_run)


def cmd_run(args) -> None:
    from services.cli import _bootstrap

    base = Settings.from_env("intake")
    outcomes: list[Outcome] = []
    for service in ([args.service] if args.service else SERVICES):
        settings = base.for_service(service)
        deps = _bootstrap(service, settings)
        outcomes += job(service, deps, settings)(deps.clock(), args.dry_run)
        deps.engine.dispose()
    print(render_table(outcomes))
    print(("dry run: nothing changed" if args.dry_run else "applied"), file=sys.stderr)
