"""`lotse reporting`: rebuild the figures from the service's own fact log.

    lotse reporting rebuild     empty the figure tables and apply every fact again

The fact log (reporting_facts) keeps what the service took from each event it counted, in
the order it took them; the figure tables are derived from it alone, so a rebuild gives the
figures the live tables show (a test checks it). Replaying the bus's events is not the
source: the operator console's journal masks the dimensions and is purged after weeks, and
the producers' outboxes are purged after days.
"""
from __future__ import annotations

from sqlalchemy import text

from shared.config import Settings


def add_parser(sub) -> None:
    reporting = sub.add_parser("reporting", help="the centre's figures: rebuild them")
    actions = reporting.add_subparsers(dest="action", required=True)
    p = actions.add_parser("rebuild", help="rebuild the figure tables from the fact log")
    p.set_defaults(func=run_rebuild)


def rebuild(engine) -> int:
    """One transaction; distributed, the consumers wait for it (the fact log locked), so no
    fact is applied twice or left out."""
    from services.reporting import projection

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("LOCK TABLE reporting_facts IN EXCLUSIVE MODE"))
        count = projection.rebuild(conn)
        projection.refresh_statistics(conn)
        return count


def run_rebuild(_args) -> None:
    from services.reporting.bootstrap import bootstrap

    deps = bootstrap(Settings.from_env("reporting"))
    count = rebuild(deps.engine)
    print(f"rebuilt the figures from {count} facts")
