"""The journal's batches on PostgreSQL: the multi-row insert and the projection's upsert (its
merge in SQL) end where the events one by one end, also with batches racing each other."""
from __future__ import annotations

import random
import threading
from dataclasses import replace

from sqlalchemy import delete

from services.ops import tables as t
from services.ops.bootstrap import bootstrap
from tests.component.test_ops_projection import feed, rows, scenario
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database


def test_batches_one_by_one_and_racing_batches_end_in_the_same_rows(tmp_path):
    events, _ = scenario()
    with fresh_database("lotse_ops", services=("ops",)) as url:
        deps = bootstrap(replace(embedded_settings(tmp_path).for_service("ops"),
                                 database_url=url))
        try:
            feed(deps, events, batch=None)
            expected = rows(deps)
            assert expected[2] == 3

            def clear():
                with deps.engine.begin() as conn:
                    conn.execute(delete(t.journal))
                    conn.execute(delete(t.referrals))

            clear()
            feed(deps, events, batch=50)
            assert rows(deps) == expected

            clear()
            errors = []

            def worker(seed: int) -> None:
                try:  # every thread all events, in batches of its own size and order
                    mine = list(events)
                    random.Random(seed).shuffle(mine)
                    feed(deps, mine, batch=1 + seed % 5)
                except Exception as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            raced = rows(deps)
            assert raced[0] == expected[0] and raced[2] == expected[2]
            # status and times the same; a status first known from a notice may differ
            # only where no versioned status arrived, which is none here
            assert raced[1] == expected[1]
        finally:
            deps.engine.dispose()


def test_the_migration_fills_the_projection_from_the_journal_on_postgres(tmp_path):
    from tests.component import test_ops_projection

    with fresh_database("lotse_ops", services=()) as url:
        test_ops_projection.test_the_migration_fills_the_projection_from_the_journal(
            tmp_path, url=url)
