"""The distributed stack as separate processes on this machine's RabbitMQ and PostgreSQL."""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from services.cli import metrics_port, migrate_all, seed_demo, stack_commands
from services import registry
from shared.bus.amqp import declare_topology
from shared.config import Settings, generated_secrets
from tests.conftest import free_port, wait_until
from tests.e2e.client import LotseClient
from tests.e2e.processes import kill_hard, lotse, stop, wait_ready
from tests.integration.conftest import (BROKER_URL, delete_bus_objects, fresh_database,
                                        require)

pytestmark = pytest.mark.e2e
HTTP = ("intake", "referral", "partner_adapter", "partner_sandbox", "ops", "reporting",
        "gateway")
DELAYS = (0.5, 1.0, 2.0)


class Stack:
    def __init__(self, tmp, env):
        self.tmp, self.env, self.procs = tmp, env, {}
        self.base = f"http://127.0.0.1:{env['LOTSE_GATEWAY_PORT']}"
        # the stack's fixed metrics ports (9101...) may be taken on this machine: free ones
        self.metrics_ports = {name: free_port() for name, argv in stack_commands()
                              if metrics_port(argv)}

    def start(self, name: str) -> None:
        argv = dict(stack_commands())[name][3:]  # drop "python -m services.cli"
        if argv[0] == "serve":
            argv += ["--workers", "1"]
        if name in self.metrics_ports:
            argv[argv.index("--metrics-port") + 1] = str(self.metrics_ports[name])
        self.procs[name] = lotse(argv, self.env, self.tmp / f"{name}.log")

    def wait_ready(self) -> None:
        for name in HTTP:
            port = self.env[f"LOTSE_{name.upper()}_PORT"]
            wait_ready(f"http://127.0.0.1:{port}/readyz", self.procs[f"serve-{name}"])


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    require("127.0.0.1", 5672, "RabbitMQ")
    tmp = tmp_path_factory.mktemp("stack")
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    with fresh_database("lotse_e2e") as db_url:
        # secrets of this run's own: its processes are a distributed deployment
        env = {"LOTSE_DATA_DIR": str(tmp), "LOTSE_BROKER_URL": BROKER_URL,
               "LOTSE_DATABASE_URL": db_url, "LOTSE_BUS_PREFIX": prefix, **generated_secrets(),
               "LOTSE_RETRY_DELAYS": ",".join(map(str, DELAYS)), "LOTSE_LOG_FORMAT": "text",
               "LOTSE_SANDBOX_AUTO_ACCEPT": "0.5", "LOTSE_WORKER_THREADS": "4",
               "LOTSE_PARTNER_POLL_SECONDS": "0.5",
               **{f"LOTSE_{name.upper()}_PORT": str(free_port()) for name in HTTP}}
        settings = Settings.from_env("intake", env)
        migrate_all(settings)
        declare_topology(settings, registry.topology(settings))
        seed_demo(settings)
        running = Stack(tmp, env)
        for name, _ in stack_commands():
            running.start(name)
        try:
            running.wait_ready()
            yield running
        finally:
            for proc in running.procs.values():
                stop(proc)
            delete_bus_objects(BROKER_URL, prefix, extra_delays=(DELAYS,))


def test_the_smoke_request_reaches_three_partners_within_ten_seconds(stack, olena_intake):
    client = LotseClient(stack.base)
    intake = client.post_intake(olena_intake)
    refs = client.wait_referred(intake["id"], 3, timeout=10)
    assert {r["partner"] for r in refs} == {"registration", "jobcenter", "welfare"}


def test_a_partner_answering_5xx_is_retried_and_ends_with_exactly_one_case(stack,
                                                                           olena_intake):
    client = LotseClient(stack.base)
    before = len(client.sandbox_cases("jobcenter"))
    client.set_partner("jobcenter", "fail")
    intake = client.post_intake(olena_intake)
    wait_until(lambda: any(c["status"] == "pending" and c["attempts"]
                           for c in partner_cases(client)), timeout=10,
               message="a failed attempt at the Jobcenter")
    client.set_partner("jobcenter", "ok")
    refs = client.wait_referred(intake["id"], 3, timeout=20)
    jobcenter_ref = next(r for r in refs if r["partner"] == "jobcenter")["referral_id"]
    cases = [c for c in client.sandbox_cases("jobcenter")
             if c["client_reference"] == jobcenter_ref]
    assert len(cases) == 1 and len(client.sandbox_cases("jobcenter")) == before + 1


def partner_cases(client) -> list[dict]:
    r = client.http.get(f"{client.base}/api/v1/partner-cases", timeout=10)
    r.raise_for_status()
    return r.json()["items"]


def test_kill_9_of_workers_mid_flow_loses_and_duplicates_nothing(stack, olena_intake):
    client = LotseClient(stack.base)
    ids = [client.post_intake(olena_intake)["id"] for _ in range(10)]
    for name in ("worker-partner_adapter", "worker-referral"):
        kill_hard(stack.procs[name])
    for name in ("worker-partner_adapter", "worker-referral"):
        stack.start(name)
    # a killed case opener's leased cases wait for their lease (80 s: lease_for) to lapse before
    # another opener takes them: that is the designed recovery time, so allow for it
    for intake_id in ids:
        client.wait_referred(intake_id, 3, timeout=120)
    referral_ids = {r["id"] for i in ids for r in client.referrals(i)}
    assert len(referral_ids) == 30
    for partner in ("welfare", "jobcenter", "registration"):
        counts = Counter(c["client_reference"] for c in client.sandbox_cases(partner)
                         if c["client_reference"] in referral_ids)
        assert len(counts) == 10 and set(counts.values()) == {1}, partner


def scrape(url: str) -> dict:
    """GET a /metrics page and parse it with Prometheus' text parser: {family: samples}."""
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, url
    assert r.headers["Content-Type"].startswith("text/plain"), url
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name
               and all(s.labels.get(k) == v for k, v in labels.items()))


def test_every_process_serves_prometheus_metrics(stack, olena_intake):
    client = LotseClient(stack.base)
    intake = client.post_intake(olena_intake)
    client.wait_referred(intake["id"], 3, timeout=20)
    for name in HTTP:
        port = stack.env[f"LOTSE_{name.upper()}_PORT"]
        requests.get(f"http://127.0.0.1:{port}/api/v1/nothing-here", timeout=10)  # counted
    for name in (n for n in HTTP if n != "gateway"):  # each service: its workers, added up
        port = stack.env[f"LOTSE_{name.upper()}_PORT"]
        families = scrape(f"http://127.0.0.1:{port}/metrics")
        assert total(families.get("lotse_http_requests", []), "lotse_http_requests_total",
                     service=name) > 0, name
        assert "lotse_http_request_duration_seconds" in families, name
    gateway = scrape(f"{stack.base}/gateway/metrics")
    assert total(gateway["lotse_http_requests"], "lotse_http_requests_total",
                 service="gateway") > 0

    def relay_and_worker_metrics() -> dict:
        return {name: scrape(f"http://127.0.0.1:{port}/metrics")
                for name, port in stack.metrics_ports.items()}

    # a relay counts an event once the broker confirmed it (and the row is marked): poll briefly
    flow = ("intake", "referral", "partner_adapter")  # the services one intake passes through
    wait_until(lambda: all(total(m["lotse_events_published"], "lotse_events_published_total")
                           for name, m in relay_and_worker_metrics().items()
                           if name in {f"relay-{s}" for s in flow}),
               timeout=10, message="the relays of the flow counted a published event")
    scraped = relay_and_worker_metrics()
    assert set(scraped) == {n for n, _ in stack_commands()
                            if n.startswith(("relay-", "worker-"))}
    for name, families in scraped.items():
        assert {"lotse_events_published", "lotse_events_consumed", "lotse_events_failed",
                "lotse_handler_duration_seconds", "lotse_outbox_lag_seconds",
                "lotse_partner_call_duration_seconds"} <= set(families), name
    for service in flow:
        relay = scraped[f"relay-{service}"]
        assert total(relay["lotse_events_published"], "lotse_events_published_total",
                     service=service) > 0
        assert total(relay["lotse_outbox_lag_seconds"], "lotse_outbox_lag_seconds_count",
                     service=service) > 0
        worker = scraped[f"worker-{service}"]
        assert total(worker["lotse_events_consumed"], "lotse_events_consumed_total",
                     verdict="ack") > 0, service
        assert total(worker["lotse_handler_duration_seconds"],
                     "lotse_handler_duration_seconds_count") > 0, service
    calls = scraped["worker-partner_adapter"]["lotse_partner_call_duration_seconds"]
    assert total(calls, "lotse_partner_call_duration_seconds_count", outcome="opened") > 0


def test_the_console_on_rabbitmq_traces_the_smoke_intake_and_shows_the_queues(stack,
                                                                              olena_intake):
    """The operator console in the distributed stack: its own worker journals every event
    from RabbitMQ, traces the smoke intake across the services, and reads queue figures from
    RabbitMQ's management API."""
    client, ops = LotseClient(stack.base), LotseClient(stack.base, username="operator").http
    intake = client.post_intake(olena_intake)
    client.wait_referred(intake["id"], 3, timeout=20)

    def traced():
        r = ops.get(f"{stack.base}/api/v1/ops/trace/{intake['id']}", timeout=10)
        if r.status_code != 200:
            return None
        events = r.json()["events"]
        return events if len([e for e in events if e["type"] == "partner_case.opened"]) == 3 \
            else None
    events = wait_until(traced, timeout=20, interval=0.3, message="the flow traced")
    assert events[0]["type"] == "intake.recorded"
    assert {e["service"] for e in events} == {"intake", "referral", "partner_adapter"}
    position = {e["event_id"]: i for i, e in enumerate(events)}
    assert all(position[e["causation_id"]] < position[e["event_id"]]
               for e in events if e["causation_id"])

    prefix = stack.env["LOTSE_BUS_PREFIX"]

    def consumed():
        """The overview with the referral worker's consumer on its queue: the management
        API's figures are refreshed every few seconds (a worker restarted by an earlier test
        appears there a little later)."""
        answer = ops.get(f"{stack.base}/api/v1/ops/overview", timeout=10).json()
        queues = {q["queue"]: q for s in answer["topology"]["services"] for q in s["queues"]}
        queue = queues[f"{prefix}.referral.open_referrals"]
        return (answer, queue) if queue["consumers"] and queue["consumers"] >= 1 else None
    overview, referral_queue = wait_until(consumed, timeout=30, interval=1,
                                          message="the referral queue's consumer shown")
    assert overview["mode"] == "rabbitmq"
    assert referral_queue["published_rate"] is not None  # from the management API
    assert set(overview["backlogs"]["outboxes"]) == {"intake", "referral", "partner_adapter",
                                                     "ops", "reporting"}
