"""Prometheus /metrics: every app answers it anonymously in the text format, and the delivery
path, the outbox relay and the partner call are counted (SQLite, fakes, no broker)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

from services.cli import main as lotse_main, metrics_port, stack_commands
from services.embedded import build_network
from services.gateway import Gateway
from services.intake import tables as intake_tables
from services.partner_adapter import handlers
from services.referral.consumers import SUBSCRIPTIONS as REFERRAL_SUBSCRIPTIONS
from shared import metrics
from shared.bus.delivery import Verdict, deliver
from shared.outbox import OutboxRelay
from tests.component.test_outbox_relay import record
from tests.component.test_partner_cases import REQUEST, cases, referral_requested
from tests.conftest import REPO, free_port
from tests.fakes import FakePartnerGateway, RecordingPublisher

OPEN = REFERRAL_SUBSCRIPTIONS[0]
FAMILIES = {"lotse_events_published", "lotse_events_consumed", "lotse_events_failed",
            "lotse_handler_duration_seconds", "lotse_outbox_lag_seconds",
            "lotse_outbox_pending", "lotse_partner_call_duration_seconds",
            "lotse_partner_call_errors", "lotse_http_requests",
            "lotse_http_request_duration_seconds"}


def parse(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    from services.cli import migrate_all
    from tests.conftest import embedded_settings

    settings = embedded_settings(tmp_path_factory.mktemp("metrics"))
    migrate_all(settings)
    return build_network(settings)


@pytest.mark.parametrize("service", ["intake", "referral", "partner_adapter", "partner_sandbox"])
def test_every_app_answers_metrics_without_login_in_the_prometheus_text_format(network,
                                                                                service):
    client = network.wsgi.apps[service].test_client()
    client.get("/healthz")
    client.get("/no-such-page", headers={"Accept": "application/json"})  # counted: 401/404
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.content_type.startswith("text/plain") and "version=0.0.4" in r.content_type
    families = parse(r.get_data(as_text=True))
    assert FAMILIES <= set(families)
    requests_ = families["lotse_http_requests"].samples
    assert any(s.labels["service"] == service for s in requests_ if s.name.endswith("_total"))


def test_the_single_address_of_the_embedded_mode_serves_metrics(network):
    r = Client(network.wsgi).get("/metrics")
    assert r.status_code == 200 and FAMILIES <= set(parse(r.get_data(as_text=True)))


def test_metrics_is_not_in_the_openapi_document(intake_client):
    from tests.component.conftest import token

    spec = intake_client.get("/api/v1/openapi.json",
                             headers=token(intake_client, "staff", "pw-staff")).get_json()
    assert "/metrics" not in spec["paths"]


def test_the_gateway_answers_its_own_metrics():
    r = Client(Gateway({})).get("/gateway/metrics")
    assert r.status_code == 200 and "lotse_http_requests" in parse(r.get_data(as_text=True))


def test_relay_delivery_and_partner_calls_are_counted(intake_deps, referral_deps,
                                                      adapter_deps, intake_client):
    published = value("lotse_events_published_total", service="intake", type="intake.recorded")
    lag = value("lotse_outbox_lag_seconds_count", service="intake")
    acked = value("lotse_events_consumed_total", subscriber=OPEN.key, type="intake.recorded",
                  verdict="ack")
    parked = value("lotse_events_consumed_total", subscriber=OPEN.key, type="invalid",
                   verdict="park")
    failed = value("lotse_events_failed_total", subscriber=OPEN.key)
    handled = value("lotse_handler_duration_seconds_count", subscriber=OPEN.key)
    opened = value("lotse_partner_call_duration_seconds_count", partner="jobcenter",
                   outcome="opened")
    retried = value("lotse_partner_call_duration_seconds_count", partner="jobcenter",
                    outcome="retry")
    errors = value("lotse_partner_call_errors_total", partner="jobcenter")

    record(intake_deps)
    publisher = RecordingPublisher()
    relay = OutboxRelay(intake_deps.engine, intake_tables.outbox, publisher)
    assert relay.relay_once() == 1
    relay.sample_pending(every=0)
    assert deliver(publisher.published[0].body, OPEN, referral_deps.uow).verdict is Verdict.ACK
    assert deliver(b"{not json", OPEN, referral_deps.uow).verdict is Verdict.PARK
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    [case] = cases(adapter_deps)
    gateway = FakePartnerGateway(fail_times=1)
    assert handlers.open_partner_case(str(case.id), adapter_deps.uow,
                                      {"jobcenter": gateway}) == "retry"
    from tests.component.test_partner_delivery import _make_due

    _make_due(adapter_deps)
    assert handlers.open_partner_case(str(case.id), adapter_deps.uow,
                                      {"jobcenter": gateway}) == "opened"

    assert value("lotse_events_published_total", service="intake",
                 type="intake.recorded") == published + 1
    assert value("lotse_outbox_lag_seconds_count", service="intake") == lag + 1
    assert value("lotse_outbox_pending", service="intake") == 0
    assert value("lotse_events_consumed_total", subscriber=OPEN.key, type="intake.recorded",
                 verdict="ack") == acked + 1
    assert value("lotse_events_consumed_total", subscriber=OPEN.key, type="invalid",
                 verdict="park") == parked + 1
    assert value("lotse_events_failed_total", subscriber=OPEN.key) == failed + 1
    assert value("lotse_handler_duration_seconds_count", subscriber=OPEN.key) == handled + 2
    assert value("lotse_partner_call_duration_seconds_count", partner="jobcenter",
                 outcome="opened") == opened + 1
    assert value("lotse_partner_call_duration_seconds_count", partner="jobcenter",
                 outcome="retry") == retried + 1
    assert value("lotse_partner_call_errors_total", partner="jobcenter") == errors + 1

    families = parse(intake_client.get("/metrics").get_data(as_text=True))
    consumed = {(s.labels["subscriber"], s.labels["verdict"])
                for s in families["lotse_events_consumed"].samples}
    assert {(OPEN.key, "ack"), (OPEN.key, "park")} <= consumed


def test_a_metrics_port_serves_the_registry_for_relays_and_workers():
    port = free_port()
    server = metrics.start_metrics_server(port)
    try:
        r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert r.status_code == 200 and FAMILIES <= set(parse(r.text))
    finally:
        server.shutdown()
        server.server_close()
    assert metrics.start_metrics_server(0) is None


def test_gunicorn_workers_add_up_in_multiprocess_mode(tmp_path):
    """Two processes count into one PROMETHEUS_MULTIPROC_DIR; a third renders the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    count = ("from shared import metrics; "
             "metrics.observe_delivery('referral.open_referrals', 'intake.recorded', 'ack', .1)")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=REPO, env=env, check=True)
    shown = subprocess.run([sys.executable, "-c", "from shared import metrics; "
                            "print(metrics.render()[0].decode())"], cwd=REPO, env=env,
                           check=True, capture_output=True, text=True).stdout
    samples = {s.name: s.value for f in text_string_to_metric_families(shown)
               for s in f.samples if s.labels.get("subscriber") == "referral.open_referrals"}
    assert samples["lotse_events_consumed_total"] == 2
    assert samples["lotse_handler_duration_seconds_count"] == 2


def test_the_stack_gives_every_relay_and_worker_its_own_metrics_port():
    ports = {name: metrics_port(argv) for name, argv in stack_commands()}
    bus = {name: port for name, port in ports.items() if name.startswith(("relay-", "worker-"))}
    assert bus and all(bus.values()) and len(set(bus.values())) == len(bus)
    assert all(port is None for name, port in ports.items() if name.startswith("serve-"))


def test_the_metrics_port_defaults_to_lotse_metrics_port(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setenv("LOTSE_METRICS_PORT", "9999")
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("services.cli.cmd_relay", lambda args: seen.update(vars(args)))
    monkeypatch.setattr("services.cli.configure_logging", lambda *a, **k: None)
    lotse_main(["relay", "intake"])
    assert seen["metrics_port"] == 9999 and seen["metrics_host"] == "127.0.0.1"


def test_the_relay_reports_how_old_its_oldest_unpublished_event_is(intake_deps):
    """lotse_outbox_oldest_pending_seconds: what the OutboxLagGrowing alert reads."""
    from datetime import timedelta

    record(intake_deps)
    later = intake_deps.clock() + timedelta(seconds=90)
    relay = OutboxRelay(intake_deps.engine, intake_tables.outbox, RecordingPublisher(),
                        clock=lambda: later)
    relay.sample_pending(every=0)
    assert value("lotse_outbox_pending", service="intake") == 1
    assert 85 <= value("lotse_outbox_oldest_pending_seconds", service="intake") <= 95
    relay.relay_once()
    relay.sample_pending(every=0)
    assert value("lotse_outbox_oldest_pending_seconds", service="intake") == 0


def test_the_case_opener_reports_open_circuits_to_prometheus(adapter_deps):
    """lotse_partner_circuit_open: what the PartnerCircuitOpen alert reads, set before the
    states are written to the database (which may be the thing that is down)."""
    from services.partner_adapter.case_opener import CaseOpener

    opener = CaseOpener(adapter_deps, {"jobcenter": FakePartnerGateway()}, threads=1)
    now = adapter_deps.clock()
    for _ in range(opener.guards.breaker.directory["jobcenter"].breaker_failures):
        opener.guards.breaker.record("jobcenter", False, now)
    opener.report_circuits()
    assert value("lotse_partner_circuit_open", partner="jobcenter") == 1
    opener.guards.breaker.record("jobcenter", True, now)
    opener.report_circuits()
    assert value("lotse_partner_circuit_open", partner="jobcenter") == 0
