"""Bus topology: names, growing retry delays, and the committed definitions.json."""
from __future__ import annotations

import json

from services import registry
from shared.bus.topology import Subscription, build_topology, topic_matches
from tests.conftest import REPO, embedded_settings


def test_each_subscription_has_its_work_delay_and_parking_queues():
    sub = Subscription("partner_adapter", "request_partner_case", ("referral.requested",),
                       lambda e, u: None)
    topo = build_topology("lotse", [sub], (1, 5, 30))
    names = {q["name"] for q in topo.queue_specs()}
    assert {"lotse.partner_adapter.request_partner_case",
            "lotse.partner_adapter.request_partner_case.retry.1s",
            "lotse.partner_adapter.request_partner_case.retry.30s",
            "lotse.partner_adapter.request_partner_case.parked", "lotse.unrouted"} <= names
    assert [topo.retry_delay(a) for a in (1, 2, 3, 4)] == [1, 5, 30, 30]


def test_delay_queues_dead_letter_back_to_their_own_work_queue_only():
    sub = Subscription("referral", "open_referrals", ("intake.recorded",), lambda e, u: None)
    topo = build_topology("lotse", [sub], (1,))
    delay = next(q for q in topo.queue_specs() if q["name"].endswith(".retry.1s"))
    assert delay["arguments"]["x-dead-letter-exchange"] == ""
    assert delay["arguments"]["x-dead-letter-routing-key"] == "lotse.referral.open_referrals"


def test_the_events_exchange_sends_unroutable_events_to_an_alternate_exchange():
    topo = build_topology("lotse", [], (1,))
    assert topo.exchange_specs()[0]["arguments"] == {"alternate-exchange": "lotse.unrouted"}


def test_topic_patterns():
    assert topic_matches("referral.*", "referral.requested")
    assert topic_matches("#", "a.b")
    assert not topic_matches("referral.*", "intake.recorded")


def test_deploy_definitions_match_the_code(tmp_path):
    topo = registry.topology(embedded_settings(tmp_path, retry_delays=(1.0, 5.0, 30.0, 120.0,
                                                                       600.0)))
    committed = json.loads((REPO / "deploy/rabbitmq/definitions.json").read_text())
    assert committed == json.loads(json.dumps(topo.definitions())), \
        "run `make definitions` to regenerate deploy/rabbitmq/definitions.json"


def test_the_committed_definitions_carry_no_user_and_a_password_makes_one(tmp_path):
    """The repository publishes no broker password: compose writes the boot definitions with
    Lotse's user from LOTSE_BROKER_PASSWORD (a fresh salt each time)."""
    import base64
    import hashlib

    committed = json.loads((REPO / "deploy/rabbitmq/definitions.json").read_text())
    assert committed["users"] == [] and committed["permissions"] == []
    topo = registry.topology(embedded_settings(tmp_path))
    [user] = topo.definitions("lotse", "s3cret-from-env")["users"]
    raw = base64.b64decode(user["password_hash"])
    salt, digest = raw[:4], raw[4:]
    assert digest == hashlib.sha256(salt + b"s3cret-from-env").digest()
    assert topo.definitions("lotse", "s3cret-from-env")["users"][0]["password_hash"] != \
        user["password_hash"]


def test_the_event_catalogue_is_current(tmp_path):
    from shared.events.catalogue import render

    topo = registry.topology(embedded_settings(tmp_path, retry_delays=(1.0, 5.0, 30.0, 120.0,
                                                                       600.0)))
    committed = (REPO / "docs/events.md").read_text()
    assert committed.strip() == render(topo).strip(), "run `make definitions`"
