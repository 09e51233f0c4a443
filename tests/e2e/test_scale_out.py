"""Scale-out: `lotse stack` with two replicas of every relay and bus worker. Both replicas of
each kind do the work (their own /metrics count it), and the fault suite's invariants hold
(bench/invariants.py): nothing lost, nothing doubled."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text

from services.cli import BUS_SERVICES
from tests.e2e.client import LotseClient
from tests.e2e.supervised import supervised_stack, total

pytestmark = pytest.mark.e2e
INTAKES = 40
FLOW = ("intake", "referral", "partner_adapter")  # the services whose outboxes one intake fills


@pytest.mark.timeout(480)
def test_two_replicas_of_every_relay_and_worker_share_the_work(tmp_path, olena_intake):
    with supervised_stack(tmp_path, replicas="relay=2,worker=2") as stack:
        pairs = {f"{k}-{s}": (f"{k}-{s}", f"{k}-{s}-2")
                 for k in ("relay", "worker") for s in BUS_SERVICES}
        assert set(stack.metrics_ports) == {n for pair in pairs.values() for n in pair} | {
            "worker-partner_sandbox"}
        client = LotseClient(stack.base)
        ids = []
        for _ in range(INTAKES):  # spread over a few seconds: every relay polls many times
            ids.append(client.post_intake(olena_intake)["id"])
            time.sleep(0.1)
        for intake_id in ids:
            client.wait_referred(intake_id, 3, timeout=60)

        found = stack.settled_findings(ids)
        engine = create_engine(stack.env["LOTSE_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                rows = {s: conn.execute(text(f"SELECT count(*) FROM {s}_outbox")).scalar()
                        for s in FLOW}
        finally:
            engine.dispose()
        assert found.holds, (found.lost, found.duplicated, found.waiting)
        assert found.flows == INTAKES

        scraped = {name: stack.scrape(name) for name in stack.metrics_ports}
        handled = {}
        for name, families in scraped.items():
            if name.startswith("relay-"):
                handled[name] = total(families["lotse_events_published"],
                                      "lotse_events_published_total")
            else:
                handled[name] = total(families["lotse_events_consumed"],
                                      "lotse_events_consumed_total", verdict="ack")
        for kind, pair in pairs.items():
            if kind in ("relay-ops", "relay-reporting"):
                # the flow writes nothing to these outboxes (they publish erasure
                # confirmations only): the relays stand by, alive
                assert all(stack.probe(n, "/healthz") == 200 for n in pair), pair
                continue
            assert all(handled[n] > 0 for n in pair), (kind, {n: handled[n] for n in pair})
        for service in FLOW:  # between them, the two relays published every event once
            assert sum(handled[n] for n in pairs[f"relay-{service}"]) == rows[service] > 0
        assert all(stack.probe(n, "/healthz") == 200 and stack.probe(n, "/readyz") == 200
                   for n in stack.metrics_ports)
