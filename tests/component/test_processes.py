"""One declaration of every service's loops (services/processes.py), run alike by `lotse run`
(every loop in one process, on the embedded bus), by `lotse relay` / `lotse worker` (one
service's share, on RabbitMQ) and by `lotse stack` (a process per share)."""
from __future__ import annotations

import argparse
import os
import threading

import pytest

from services import cli, processes
from services.embedded import build_network
from services.ops import readings
from services.supervisor import parse_replicas
from shared import metrics
from shared.config import Settings, generated_secrets
from shared.probes import ProcessProbes, start_probe_server
from tests.conftest import embedded_settings, free_port

# the names probes (/healthz), logs and alert rules know the loops by, per service
RELAY_LOOPS = {"intake": ["relay-intake"], "referral": ["relay-referral"],
               "partner_adapter": ["relay-partner_adapter"], "ops": ["relay-ops"],
               "reporting": ["relay-reporting"]}
WORKER_LOOPS = {"intake": ["consumer-intake", "retention"],
                "referral": ["consumer-referral", "retention", "deadline-scheduler"],
                "partner_adapter": ["consumer-partner_adapter", "retention", "case-opener"],
                "ops": ["consumer-ops", "retention", "ops-console"],
                "reporting": ["consumer-reporting", "retention"],
                "partner_sandbox": ["sandbox-notifier"]}


class RecordingLoops:
    """shared/runtime.py's Loops, noting what would run instead of starting it; stopped from
    the start, so a command returns once it has started its loops."""

    def __init__(self):
        self.stop = threading.Event()
        self.stop.set()
        self.names: list[str] = []

    def start(self, name: str, target) -> None:
        assert callable(target)
        self.names.append(name)

    def health(self):
        return True, {}

    def shutdown(self, timeout: float = 15.0) -> None:
        pass


@pytest.fixture
def distributed_env(tmp_path, monkeypatch):
    """A relay's or worker's environment: RabbitMQ named (a closed port: nothing connects
    while loops are only built), SQLite databases migrated in a folder of their own."""
    env = {"LOTSE_DATA_DIR": str(tmp_path / "distributed"), "LOTSE_LOG_FORMAT": "text",
           "LOTSE_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//",
           **generated_secrets()}
    monkeypatch.delenv("LOTSE_DATABASE_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("shared.runtime.stop_on_signals", lambda stop: None)
    cli.migrate_all(Settings.from_env("intake"))


def loops_of_command(kind: str, service: str, monkeypatch, **options) -> list[str]:
    loops = RecordingLoops()
    monkeypatch.setattr("services.cli._loops", lambda: loops)
    command = {"relay": cli.cmd_relay, "worker": cli.cmd_worker}[kind]
    command(argparse.Namespace(service=service, metrics_port=0, metrics_host="127.0.0.1",
                               **options))
    return loops.names


def test_relays_and_workers_run_the_loops_declared_for_their_service(distributed_env,
                                                                      monkeypatch):
    assert {s: loops_of_command("relay", s, monkeypatch) for s in RELAY_LOOPS} == RELAY_LOOPS
    assert {s: loops_of_command("worker", s, monkeypatch) for s in WORKER_LOOPS} == WORKER_LOOPS


def test_the_embedded_network_runs_what_the_relays_and_workers_run(distributed_env,
                                                                    monkeypatch, tmp_path):
    """Per service, the same loops as its relay and worker commands; in one process the
    name every bus service's worker shares ("retention") carries the service's."""
    commands = {s: loops_of_command("relay", s, monkeypatch) if s in RELAY_LOOPS else []
                for s in WORKER_LOOPS}
    for service in WORKER_LOOPS:
        commands[service] += loops_of_command("worker", service, monkeypatch)
    settings = embedded_settings(tmp_path / "embedded")
    cli.migrate_all(settings)
    network = build_network(settings)
    loops = RecordingLoops()
    try:
        network.start_loops(loops)
    finally:
        for deps in network.deps.values():
            deps.engine.dispose()
        network.broker.engine.dispose()
        network.sandbox_engine.dispose()
    assert len(loops.names) == len(set(loops.names))
    assert sorted(loops.names) == sorted(
        f"retention-{service}" if name == "retention" else name
        for service, names in commands.items() for name in names)


def test_the_stack_starts_a_relay_and_a_worker_per_declared_share():
    names = [name for name, _ in cli.stack_commands("py")]
    assert [n for n in names if n.startswith(("relay-", "worker-"))] == [
        *(f"relay-{s}" for s in RELAY_LOOPS), *(f"worker-{s}" for s in WORKER_LOOPS)]
    assert processes.services_with(processes.RELAY) == tuple(RELAY_LOOPS)
    assert processes.services_with(processes.WORKER) == tuple(WORKER_LOOPS)


def test_a_replica_other_than_the_first_leaves_out_the_loops_that_run_once(distributed_env,
                                                                            monkeypatch):
    """`lotse worker ops --skip-once-loops`, as `lotse stack` starts the ops worker's second
    replica: its consumer and retention, not a second console."""
    commands = dict(cli.stack_commands("py", replicas=parse_replicas("worker:ops=2")))
    monkeypatch.setattr("services.cli._serve_metrics", lambda args, probes=None: None)
    monkeypatch.setattr("services.cli.configure_logging", lambda *a, **k: None)
    started: dict[str, list[str]] = {}
    for name in ("worker-ops", "worker-ops-2"):
        loops = RecordingLoops()
        monkeypatch.setattr("services.cli._loops", lambda loops=loops: loops)
        umask = os.umask(0o022)
        try:
            cli.main(commands[name][3:])  # as the supervisor runs it
        finally:
            os.umask(umask)
        started[name] = loops.names
    assert started == {"worker-ops": WORKER_LOOPS["ops"],
                       "worker-ops-2": ["consumer-ops", "retention"]}
    assert loops_of_command("worker", "partner_sandbox", monkeypatch,
                            skip_once_loops=True) == []
    assert loops_of_command("worker", "referral", monkeypatch, skip_once_loops=True) == \
        WORKER_LOOPS["referral"]


def test_the_console_reads_the_metrics_the_relays_and_case_opener_declare():
    """What services/processes.py says the console reads is what services/ops/readings.py
    parses, from every relay and the partner adapter's worker."""
    assert set(processes.console_metrics()) == {readings.OUTBOX_PENDING, readings.OUTBOX_OLDEST,
                                                readings.CIRCUIT_OPEN}
    assert processes.console_sources() == (
        *((processes.RELAY, s) for s in RELAY_LOOPS), (processes.WORKER, "partner_adapter"))


def test_the_stack_gives_the_console_every_relays_and_case_openers_metrics_address():
    """`lotse stack` sets LOTSE_OPS_METRICS_URLS for the ops server and every ops worker:
    the /metrics of each relay and partner adapter worker it starts, replicas included; and
    those addresses answer with the figures the console parses."""
    commands = cli.stack_commands("py", replicas=parse_replicas("relay=2,worker=2"))
    ports = {name: free_port() for name, argv in commands if cli.metrics_port(argv)}
    for name, argv in commands:  # ports free on this machine, not the stack's 9101, ...
        if name in ports:
            argv[argv.index("--metrics-port") + 1] = str(ports[name])
    env = cli.stack_environment(commands)
    assert set(env) == {"serve-ops", "worker-ops", "worker-ops-2"}
    sources = [name for name, _ in commands
               if name.startswith(("relay-", "worker-partner_adapter"))]
    assert len(sources) == 2 * len(RELAY_LOOPS) + 2
    urls = tuple(f"http://127.0.0.1:{ports[name]}/metrics" for name in sources)
    for name in env:
        assert readings.ServiceMetrics.from_environ(env[name]).urls == urls, name

    servers = [start_probe_server(ports[name], "127.0.0.1", ProcessProbes())
               for name in sources]
    try:
        metrics.OUTBOX_PENDING.labels("stack-test").set(3)
        metrics.PARTNER_CIRCUIT_OPEN.labels("stack-test").set(1)
        samples, unread = readings.ServiceMetrics(urls, local=False).samples(
            processes.console_metrics())
    finally:
        metrics.OUTBOX_PENDING.remove("stack-test")
        metrics.PARTNER_CIRCUIT_OPEN.remove("stack-test")
        for server in servers:
            server.shutdown()
            server.server_close()
    assert unread == {}
    ours = [(name, value) for name, labels, value in samples
            if "stack-test" in (labels.get("service"), labels.get("partner"))]
    assert sorted(ours) == sorted([(readings.OUTBOX_PENDING, 3.0),
                                   (readings.CIRCUIT_OPEN, 1.0)] * len(urls))
