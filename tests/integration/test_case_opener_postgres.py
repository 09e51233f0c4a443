"""Case openers at once on PostgreSQL (SKIP LOCKED): two processes' openers, each running
two round loops, never try a case twice at once and call each case's partner once."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from services.partner_adapter.bootstrap import bootstrap as adapter_bootstrap
from services.partner_adapter.case_opener import CaseOpener
from shared.bus.delivery import deliver
from tests.component.test_case_opener_rounds import Slowish, watch_rounds
from tests.component.test_partner_cases import REQUEST, cases, referral_requested
from tests.conftest import embedded_settings, wait_until
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url():
    with fresh_database("lotse_opener") as url:
        yield url


def test_openers_and_their_loops_work_on_disjoint_cases_and_call_each_once(
        tmp_path, pg_url, monkeypatch):
    deps = adapter_bootstrap(replace(embedded_settings(tmp_path), database_url=pg_url)
                             .for_service("partner_adapter"))
    for _ in range(30):
        deliver(referral_requested(), REQUEST, deps.uow)
    loops, twice = watch_rounds(monkeypatch)
    gateway, stop = Slowish(), threading.Event()
    openers = [threading.Thread(target=CaseOpener(deps, {"jobcenter": gateway}, threads=2,
                                                  batch=4, loops=2).run,
                                args=(stop,), name=f"opener-{n}", daemon=True)
               for n in range(2)]
    for opener in openers:
        opener.start()
    try:
        wait_until(lambda: all(c.status == "opened" for c in cases(deps)), timeout=60,
                   message="every case opened")
    finally:
        stop.set()
        for opener in openers:
            opener.join(20)
    assert twice == [] and len(loops) >= 3  # most loops had rounds, no case tried twice
    assert len(gateway.calls) == len(set(gateway.calls)) == 30  # one call per case
