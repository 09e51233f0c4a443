"""`lotse stack` (what `make stack` runs) keeps serving when one of its processes dies: a
SIGKILLed worker and relay are started again by its supervisor within 15 s, the API answers
all along, and every intake posted meanwhile reaches its partners, once."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from tests.conftest import wait_until
from tests.e2e.client import LotseClient
from tests.e2e.supervised import supervised_stack, total

pytestmark = pytest.mark.e2e
KILLED = ("worker-referral", "relay-intake")


class ApiPoller(threading.Thread):
    """Reads the API (through the gateway) every 0.1 s; keeps every failed answer."""

    def __init__(self, client: LotseClient):
        super().__init__(daemon=True)
        self.client, self.stop, self.answered, self.failures = client, threading.Event(), 0, []

    def run(self) -> None:
        while not self.stop.wait(0.1):
            try:
                r = self.client.http.get(f"{self.client.base}/api/v1/referrals",
                                         params={"intake_id": str(uuid.uuid4())}, timeout=5)
                if r.status_code == 200:
                    self.answered += 1
                else:
                    self.failures.append(r.status_code)
            except requests.RequestException as exc:
                self.failures.append(type(exc).__name__)


@pytest.mark.timeout(420)
def test_a_killed_worker_and_relay_come_back_and_nothing_is_lost(tmp_path, olena_intake):
    with supervised_stack(tmp_path) as stack:
        client = LotseClient(stack.base)
        poller = ApiPoller(LotseClient(stack.base))
        poller.start()
        ids = [client.post_intake(olena_intake)["id"] for _ in range(5)]
        old = {name: stack.pid_of(name) for name in KILLED}
        assert all(old.values()), old
        for name in KILLED:
            os.kill(old[name], signal.SIGKILL)
        killed_at = time.monotonic()
        ids += [client.post_intake(olena_intake)["id"] for _ in range(5)]  # while they are down

        def back():
            return all(stack.pid_of(name) not in (None, old[name])
                       and stack.probe(name, "/healthz") == 200
                       and stack.probe(name, "/readyz") == 200 for name in KILLED)
        wait_until(back, timeout=15, interval=0.2,
                   message=f"{', '.join(KILLED)} started again and serving its probes")
        recovered = time.monotonic() - killed_at
        ids += [client.post_intake(olena_intake)["id"] for _ in range(5)]
        # the killed relay's leased rows wait out their lease (30 s) before another claims them
        for intake_id in ids:
            client.wait_referred(intake_id, 3, timeout=120)
        poller.stop.set()
        poller.join(10)
        assert poller.failures == [] and poller.answered > 0, poller.failures

        referral_ids = {r["id"] for i in ids for r in client.referrals(i)}
        assert len(referral_ids) == 3 * len(ids)
        for partner in ("welfare", "jobcenter", "registration"):
            counts = Counter(c["client_reference"] for c in client.sandbox_cases(partner)
                             if c["client_reference"] in referral_ids)
            assert len(counts) == len(ids) and set(counts.values()) == {1}, partner
        found = stack.settled_findings(ids)
        assert found.holds, (found.lost, found.duplicated)

        restarts = stack.scrape("supervisor")["lotse_stack_process_restarts"]
        for name in KILLED:
            assert total(restarts, "lotse_stack_process_restarts_total", process=name) == 1
        assert total(restarts, "lotse_stack_process_restarts_total") == 2  # no other one
        assert stack.proc.poll() is None  # the stack itself still runs
        assert recovered < 15
