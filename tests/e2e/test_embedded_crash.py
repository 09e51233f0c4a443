"""kill -9 of the embedded process mid-flow, then a restart: nothing lost, nothing doubled."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.conftest import free_port, wait_until
from tests.e2e.client import LotseClient
from tests.e2e.processes import kill_hard, lotse, stop, wait_ready

pytestmark = pytest.mark.e2e
INTAKES = 12
# Short delay tiers: work interrupted by the kill is retried within them; the wait after the
# restart follows them (plus time for the work itself), not a fixed guess.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0)
SETTLE_SECONDS = sum(RETRY_DELAYS) + 45


def cases_at_partners(tmp_path) -> int:
    import sqlite3

    db = sqlite3.connect(tmp_path / "var" / "partner_sandbox.db")
    return db.execute("SELECT count(*) FROM sandbox_cases").fetchone()[0]


def test_kill_9_during_processing_loses_and_duplicates_nothing(tmp_path, olena_intake):
    port = free_port()
    env = {"LOTSE_DATA_DIR": str(tmp_path / "var"), "PORT": str(port),
           "LOTSE_LOG_FORMAT": "text", "LOTSE_SANDBOX_AUTO_ACCEPT": "",
           "LOTSE_RETRY_DELAYS": ",".join(str(d) for d in RETRY_DELAYS)}
    base = f"http://127.0.0.1:{port}"
    proc = lotse(["run", "--demo"], env, tmp_path / "run.log")
    try:
        wait_ready(base + "/healthz", proc)
        client = LotseClient(base)
        ids = [client.post_intake(olena_intake)["id"] for _ in range(INTAKES)]
        # some, not all, work has happened: the flow is mid-way when the process dies
        wait_until(lambda: client.sandbox_stats(), timeout=10, message="first partner case")
        kill_hard(proc)
        assert cases_at_partners(tmp_path) < INTAKES * 3, "the kill came too late to test"

        proc = lotse(["run"], env, tmp_path / "run.log")
        wait_ready(base + "/healthz", proc)
        client = LotseClient(base)
        for intake_id in ids:
            client.wait_referred(intake_id, 3, timeout=SETTLE_SECONDS)
        referral_ids = {r["id"] for i in ids for r in client.referrals(i)}
        assert len(referral_ids) == INTAKES * 3
        for partner in ("welfare", "jobcenter", "registration"):
            per_referral = Counter(c["client_reference"] for c in client.sandbox_cases(partner))
            assert len(per_referral) == INTAKES, partner
            assert set(per_referral.values()) == {1}, f"duplicate case at {partner}"
            assert set(per_referral) <= referral_ids
    finally:
        stop(proc)
