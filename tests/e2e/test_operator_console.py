"""The operator console on the live embedded network: traces, dead letters and replays.

The console journals every event from its own queue, collects parked messages from the
parking queues into its dead-letter store, and replays them into their own queue only.
"""
from __future__ import annotations

import copy
import json
import uuid
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import select

from services import registry
from services.ops import tables as ops_tables
from services.referral import repository as referral_repository
from shared.bus.delivery import TransientError
from shared.bus.embedded import EmbeddedBroker, bus_messages
from shared.clock import utcnow
from shared.db import make_engine
from shared.events.envelope import new_envelope
from tests.conftest import OLENA, embedded_settings, wait_until
from tests.e2e.client import LotseClient

pytestmark = pytest.mark.e2e


def operator(network: str) -> requests.Session:
    return LotseClient(network, username="operator").http


def settings_of(network: str, tmp_path):
    return embedded_settings(tmp_path, {"PORT": network.rsplit(":", 1)[1]})


def outbox_events(settings, correlation_ids: set[str]) -> set[str]:
    """Every event any service committed for these flows (from their outboxes)."""
    found = set()
    for service in registry.BUS_SERVICES:
        tables = __import__(f"services.{service}.tables", fromlist=["outbox"])
        with disposing(make_engine(settings.for_service(service).database_url)) as engine, \
                engine.connect() as conn:
            found |= {r.event_id for r in conn.execute(
                select(tables.outbox.c.event_id, tables.outbox.c.correlation_id)).all()
                if r.correlation_id in correlation_ids}
    return found


@contextmanager
def disposing(engine):
    """Tests open their own handles on the network's databases: close them again."""
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_smoke_intakes_trace_lists_every_event_across_the_services_in_causal_order(
        network, tmp_path):
    client, ops = LotseClient(network), operator(network)
    intake = client.post_intake(copy.deepcopy(OLENA))
    client.wait_referred(intake["id"], 3, timeout=15)

    def complete():
        r = ops.get(f"{network}/api/v1/ops/trace/{intake['id']}", timeout=10)
        if r.status_code != 200:
            return None
        t = r.json()
        accepted = [e for e in t["events"] if e["type"] == "referral.status_changed"
                    and e["status"] == "accepted"]
        return t if len(accepted) == 3 else None
    trace = wait_until(complete, timeout=20, interval=0.3, message="the whole flow traced")
    events = trace["events"]

    # every event any service committed for this flow is in the trace, exactly once
    correlations = {e["correlation_id"] for e in events}
    committed = wait_until(lambda: outbox_events(settings_of(network, tmp_path), correlations)
                           if len(outbox_events(settings_of(network, tmp_path), correlations))
                           == len(events) else None, timeout=10, message="journal caught up")
    assert {e["event_id"] for e in events} == committed
    assert len(events) == len(committed)
    assert {e["service"] for e in events} == {"intake", "referral", "partner_adapter"}

    # causal order: one tree from the intake (partner answers continue the referral's flow),
    # every event after its cause
    assert events[0]["type"] == "intake.recorded" and events[0]["at_ms"] == 0
    position = {e["event_id"]: i for i, e in enumerate(events)}
    assert [e["type"] for e in events if e["causation_id"] is None] == ["intake.recorded"]
    for e in events:
        if e["causation_id"] is not None:
            assert position[e["causation_id"]] < position[e["event_id"]], e
            assert e["after_cause_ms"] >= 0
        assert e["at_ms"] >= 0
    types = [e["type"] for e in events]
    assert types.count("referral.requested") == 3
    assert types.count("partner_case.opened") == 3
    # timings: when it reached the bus and who handled it
    recorded = events[0]
    assert recorded["to_bus_ms"] is not None and recorded["to_bus_ms"] >= 0
    handlers = {h["subscriber"] for h in recorded["handled_by"]}
    assert "referral.open_referrals" in handlers
    assert all(h["ms"] >= 0 for e in events for h in e["handled_by"])
    # the current state of each referral
    assert {r["status"] for r in trace["referrals"].values()} == {"accepted"}
    assert len(trace["referrals"]) == 3

    # the same through the UI
    page = ops.get(f"{network}/ops/trace", params={"id": intake["id"]}, timeout=10)
    assert page.status_code == 200 and "intake.recorded" in page.text


def test_a_poison_message_is_parked_fixed_replayed_from_the_console_and_has_one_effect(
        network, monkeypatch):
    """The referral service cannot route (its rules table is broken): the intake's event is
    retried, then parked. The operator fixes the cause and replays it: three referrals."""
    client, ops = LotseClient(network), operator(network)
    real = referral_repository.intakes_with_referrals

    def broken(*args, **kwargs):
        raise TransientError("routing rules unavailable")
    monkeypatch.setattr(referral_repository, "intakes_with_referrals", broken)
    intake = client.post_intake(copy.deepcopy(OLENA))

    def parked():
        items = ops.get(f"{network}/api/v1/ops/dead-letters",
                        params={"queue": "lotse.referral.open_referrals"}, timeout=10).json()
        return items["items"]
    [letter] = wait_until(parked, timeout=15, interval=0.2, message="the intake parked")
    assert letter["event_type"] == "intake.recorded"
    assert letter["reason"] == ("gave up after 4 attempts: "
                                "TransientError: routing rules unavailable")
    assert letter["attempts"] == 4
    assert letter["payload_masked"] and letter["payload"]["data"]["person"]["family_name"] == "•••"
    assert client.intake(intake["id"])["referrals"] == []

    monkeypatch.setattr(referral_repository, "intakes_with_referrals", real)  # the fix
    r = ops.post(f"{network}/api/v1/ops/dead-letters/{letter['id']}/replay", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "replayed"
    client.wait_referred(intake["id"], 3, timeout=15)

    again = ops.post(f"{network}/api/v1/ops/dead-letters/{letter['id']}/replay", timeout=10)
    assert again.status_code == 409  # settled: the console refuses a second replay
    audit = ops.get(f"{network}/api/v1/ops/audit", timeout=10).json()["items"]
    assert audit[0]["action"] == "replay" and audit[0]["actor"] == "operator"
    assert len(client.referrals(intake["id"])) == 3


def test_the_same_event_replayed_twice_has_its_effect_once(network, tmp_path):
    """Replays are at least once (a crash between requeue and mark repeats one): the
    consumer's inbox turns the second copy into a no-op."""
    client = LotseClient(network)
    intake = client.post_intake(copy.deepcopy(OLENA))
    client.wait_referred(intake["id"], 3, timeout=15)
    settings = settings_of(network, tmp_path)
    broker = EmbeddedBroker(settings.bus_url, registry.topology(settings))
    from services.intake.tables import outbox
    with disposing(make_engine(settings.for_service("intake").database_url)) as engine, \
            engine.connect() as conn:
        body = conn.execute(select(outbox.c.body).where(
            outbox.c.event_type == "intake.recorded")).scalars().all()
    [recorded] = [b for b in body if json.loads(b)["data"]["intake_id"] == intake["id"]]
    from shared.bus.parking import EmbeddedParkingLot, ParkedMessage
    lot = EmbeddedParkingLot(broker)
    for _ in range(2):
        lot.requeue(ParkedMessage("lotse.referral.open_referrals", json.loads(recorded)["id"],
                                  "intake.recorded", recorded, "test", 1))
    wait_until(lambda: not broker.depths().get("lotse.referral.open_referrals",
                                               {}).get("ready"), timeout=10,
               message="both copies consumed")
    broker.engine.dispose()
    assert len(client.referrals(intake["id"])) == 3


def test_a_batch_replay_of_500_parked_messages_completes_with_progress(network, tmp_path):
    """500 events the journal could not take (its database was down) wait parked; one batch
    replays them all, its progress readable while it runs; each is journaled once."""
    ops = operator(network)
    settings = settings_of(network, tmp_path)
    topology = registry.topology(settings)
    queue = next(topology.queue(s) for s in topology.subscriptions if s.key == "ops.journal")
    broker = EmbeddedBroker(settings.bus_url, topology)
    now, ids = utcnow(), []
    rows = []
    for i in range(500):
        rid = str(uuid.uuid4())
        envelope = new_envelope("referral.status_changed", 1, "referral", f"referral/{rid}", {
            "referral_id": rid, "intake_id": str(uuid.uuid4()), "need": "orientation_counselling",
            "partner": "welfare", "service": "mbe", "status": "accepted",
            "previous_status": "received", "reason": None, "partner_case_ref": f"W-{i}",
            "version": 3, "changed_at": now, "changed_by": "partner:welfare"})
        ids.append(envelope.id)
        rows.append(dict(queue=queue, event_id=envelope.id, routing_key=envelope.type,
                         body=envelope.to_json(), status="parked", attempts=4,
                         available_at=now, created_at=now,
                         reason="gave up after 4 attempts: OperationalError: database is down"))
    with broker.engine.begin() as conn:
        conn.execute(bus_messages.insert(), rows)
    broker.engine.dispose()

    def collected():
        counts = ops.get(f"{network}/api/v1/ops/dead-letters", params={"limit": 1},
                         timeout=10).json()["counts"]
        return counts.get(queue, {}).get("parked") == 500
    wait_until(collected, timeout=20, interval=0.2, message="500 dead letters collected")

    r = ops.post(f"{network}/api/v1/ops/replays",
                 json={"queue": queue, "reason": "database is down"}, timeout=10)
    assert r.status_code == 202, r.text
    batch = r.json()
    assert batch["total"] == 500 and batch["status"] == "running"
    seen = []

    def finished():
        b = ops.get(f"{network}/api/v1/ops/replays/{batch['id']}", timeout=10).json()
        seen.append(b["progress"])
        return b if b["status"] == "finished" else None
    done = wait_until(finished, timeout=60, interval=0.05, message="the batch finished")
    assert (done["done"], done["failed"], done["progress"]) == (500, 0, 1.0)
    assert seen == sorted(seen), "progress never goes back"

    j = ops_tables.journal
    with disposing(make_engine(settings.for_service("ops").database_url)) as ops_engine:
        def journaled():
            with ops_engine.connect() as conn:
                return conn.execute(select(j.c.event_id).where(j.c.event_id.in_(ids))).all()
        wait_until(lambda: len(journaled()) == 500, timeout=30, message="500 events journaled")
        assert len({r.event_id for r in journaled()}) == 500  # each once
    left = ops.get(f"{network}/api/v1/ops/dead-letters", params={"queue": queue},
                   timeout=10).json()["items"]
    assert left == []
