"""The partner adapter in batches on PostgreSQL: referral.requested one by one, in batches
and delivered, and a case opener round case by case, together and on a pool, leave the same
rows and events as on SQLite, in as few statements; batches of requests racing each other
over the same referrals make one case per referral, without failing a batch."""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from services.partner_adapter import handlers, repository
from services.partner_adapter.bootstrap import bootstrap
from shared.bus.delivery import Verdict, deliver_batch
from shared.db import migrate
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database
from tests.partner_adapter_batches import (EXPECTED_OUTCOMES, REQUEST, Partners, Statements,
                                           clear, feed, fixed_id, open_round, referral_id,
                                           request, requests, seed_requests, seed_round,
                                           snapshot, still)

pytestmark = pytest.mark.integration
SERVICE = "partner_adapter"


def on_sqlite(tmp_path):
    settings = embedded_settings(tmp_path).for_service(SERVICE)
    migrate(SERVICE, settings.database_url)
    return still(bootstrap(settings))


def on_postgres(tmp_path, url: str):
    return still(bootstrap(replace(embedded_settings(tmp_path).for_service(SERVICE),
                                   database_url=url)))


def test_requests_leave_the_same_rows_as_on_sqlite(tmp_path):
    lite = on_sqlite(tmp_path)
    seed_requests(lite)
    feed(lite, requests(), batch=None)
    expected = snapshot(lite)
    lite.engine.dispose()
    with fresh_database("lotse_adapter", services=(SERVICE,)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            for batch in (None, 50, 5):
                clear(deps)
                seed_requests(deps)
                feed(deps, requests(), batch=batch)
                assert snapshot(deps) == expected, batch
            clear(deps)
            seed_requests(deps)
            deliver_batch(requests(), REQUEST, deps.uow)
            assert snapshot(deps) == expected
        finally:
            deps.engine.dispose()


def test_fifty_requests_take_four_statements_with_their_delivery(tmp_path):
    with fresh_database("lotse_adapter", services=(SERVICE,)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            statements = Statements(deps.engine)
            outcomes = deliver_batch([request(f"busy {i}", consent=f"busy {i}")
                                      for i in range(50)], REQUEST, deps.uow)
            assert {o.verdict for o in outcomes} == {Verdict.ACK}
            # the inbox, the tombstones, the cases there, the new cases
            assert statements.seen == ["INSERT", "SELECT", "SELECT", "INSERT"]
        finally:
            deps.engine.dispose()


def test_a_round_leaves_the_same_rows_as_on_sqlite(tmp_path):
    lite = on_sqlite(tmp_path)
    ids = seed_round(lite)
    assert open_round(lite, ids, Partners(lite), together=False) == EXPECTED_OUTCOMES
    expected = snapshot(lite)
    lite.engine.dispose()
    with fresh_database("lotse_adapter", services=(SERVICE,)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            for mode in ("case by case", "together", "on a pool"):
                clear(deps)
                ids = seed_round(deps)
                with ThreadPoolExecutor(4) as pool:
                    outcomes = open_round(deps, ids, Partners(deps),
                                          together=mode != "case by case",
                                          pool=pool if mode == "on a pool" else None)
                assert outcomes == EXPECTED_OUTCOMES, mode
                assert snapshot(deps) == expected, mode
        finally:
            deps.engine.dispose()


def test_a_round_of_32_takes_as_few_statements_as_on_sqlite(tmp_path):
    with fresh_database("lotse_adapter", services=(SERVICE,)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            feed(deps, [request(f"busy {i}", consent=f"busy {i}") for i in range(32)],
                 batch=32)
            with deps.session_factory() as s:
                ids = [str(c.id) for c in repository.listing(s)]
            partners = Partners(deps)
            partners.labels.update({referral_id(f"busy {i}"): "opens" for i in range(32)})
            statements = Statements(deps.engine)
            outcomes = handlers.open_partner_cases(ids, deps.uow, partners.gateways(),
                                                   clock=deps.clock)
            assert set(outcomes.values()) == {"opened"} and len(outcomes) == 32
            # reads, the consent checks, locks, cases, disclosures, withdrawals, the outbox,
            # and on PostgreSQL the NOTIFY that wakes the outbox's relays (SELECT pg_notify)
            assert statements.seen == ["SELECT", "SELECT", *["SELECT"] * 32,
                                       "SELECT", "UPDATE", "INSERT", "SELECT", "INSERT",
                                       "SELECT"]
        finally:
            deps.engine.dispose()


def test_racing_batches_of_requests_make_one_case_per_referral(tmp_path, caplog):
    """Six workers each take requests for the same 30 referrals (republished: event ids of
    their own), in their own order and batch sizes: every batch commits, none is retried
    one by one, and each referral gets one case, from one of the requests for it."""
    referrals = [f"raced {i}" for i in range(30)]
    with fresh_database("lotse_adapter", services=(SERVICE,)) as url:
        deps = on_postgres(tmp_path, url)
        try:
            verdicts: list[Verdict] = []

            def worker(n: int) -> None:
                mine = [request(f"{r} by {n}", ("jobcenter", "welfare")[i % 2], referral=r,
                                consent=r) for i, r in enumerate(referrals)]
                random.Random(n).shuffle(mine)
                size = 2 + n % 5
                for start in range(0, len(mine), size):
                    verdicts.extend(o.verdict for o in deliver_batch(
                        mine[start:start + size], REQUEST, deps.uow))

            with caplog.at_level(logging.INFO, logger="shared.bus.delivery"):
                threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            assert verdicts == [Verdict.ACK] * 180
            assert "one by one" not in caplog.text
            cases = snapshot(deps)["cases"]
            assert sorted(c["referral_id"] for c in cases) == sorted(
                referral_id(r) for r in referrals)
            for case in cases:
                raced = next(r for r in referrals if referral_id(r) == case["referral_id"])
                assert case["flow_causation_id"] in {fixed_id(f"{raced} by {n}")
                                                     for n in range(6)}
        finally:
            deps.engine.dispose()
