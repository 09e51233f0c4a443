"""The intake's referral tracking in batches on PostgreSQL: one by one, in batches and
through delivery the same rows as on SQLite, and batches racing each other over the same
referrals and consents keep the newest views and copy a consent once per partner."""
from __future__ import annotations

import random
import threading
from dataclasses import replace

from services.intake.bootstrap import bootstrap
from shared.bus.delivery import Verdict, deliver_batch
from shared.db import migrate
from tests.component.test_intake_tracking_batches import (TRACK, Statements, clear,
                                                          expected_facts, feed, fifty_events,
                                                          rows, scenario, seed)
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database


def on_sqlite(tmp_path):
    settings = embedded_settings(tmp_path).for_service("intake")
    migrate("intake", settings.database_url)
    return bootstrap(settings)


def on_postgres(tmp_path, url: str):
    return bootstrap(replace(embedded_settings(tmp_path).for_service("intake"),
                             database_url=url))


def test_one_by_one_in_batches_and_delivered_the_same_rows_as_on_sqlite(tmp_path):
    events = scenario()
    lite = on_sqlite(tmp_path)
    seed(lite)
    feed(lite, events, batch=None)
    expected = rows(lite)
    lite.engine.dispose()
    with fresh_database("lotse_intake", services=("intake",)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            seed(deps)
            feed(deps, events, batch=None)
            assert rows(deps) == expected
            expected_facts(*rows(deps))
            for batch in (50, 3, 2):
                clear(deps)
                feed(deps, events, batch=batch)
                assert rows(deps) == expected, batch
            clear(deps)
            outcomes = deliver_batch(events, TRACK, deps.uow)
            assert [o.verdict for o in outcomes] == [Verdict.ACK] * len(events)
            assert rows(deps) == expected

            clear(deps)
            statements = Statements(deps.engine)
            assert [o.verdict for o in deliver_batch(fifty_events(), TRACK, deps.uow)] == [
                Verdict.ACK] * 50
            assert len(statements.seen) <= 8, statements.seen
        finally:
            deps.engine.dispose()


def test_racing_batches_keep_the_newest_views_and_copy_a_consent_once(tmp_path):
    events = scenario(ties=False)  # a tie's winner depends on the order: none here
    with fresh_database("lotse_intake", services=("intake",)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            seed(deps)
            feed(deps, events, batch=None)
            expected = rows(deps)
            clear(deps)
            errors: list[Exception] = []
            retried: list[int] = []

            def worker(seed_: int) -> None:
                mine = list(events)  # every thread all events, its own order and batch size
                random.Random(seed_).shuffle(mine)
                size = 2 + seed_ % 4
                for start in range(0, len(mine), size):
                    part = mine[start:start + size]
                    try:
                        feed(deps, part, batch=size)
                    except Exception:  # noqa: BLE001 - as delivery does: one by one
                        retried.append(seed_)
                        try:
                            feed(deps, part, batch=None)
                        except Exception as exc:  # noqa: BLE001 - reported below
                            errors.append(exc)

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            assert rows(deps) == expected
            print(f"batches retried one by one after a conflict: {len(retried)}")
        finally:
            deps.engine.dispose()
