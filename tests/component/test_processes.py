"""One declaration of every service's loops (services/processes.py), run alike by `lotse run`
(every loop in one process, on the embedded bus), by `lotse relay` / `lotse worker` (one
service's share, on RabbitMQ) and by `lotse stack` (a process per share)."""
from __future__ import annotations

import argparse
import threading

import pytest

from services import cli, processes
from services.embedded import build_network
from shared.config import Settings, generated_secrets
from tests.conftest import embedded_settings, free_port

# the names probes (/healthz), logs and alert rules know the loops by, per service
RELAY_LOOPS = {"intake": ["relay-intake"], "referral": ["relay-referral"],
               "partner_adapter": ["relay-partner_adapter"], "ops": ["relay-ops"]}
WORKER_LOOPS = {"intake": ["consumer-intake", "retention"],
                "referral": ["consumer-referral", "retention", "deadline-scheduler"],
                "partner_adapter": ["consumer-partner_adapter", "retention", "case-opener"],
                "ops": ["consumer-ops", "retention", "ops-console"],
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


def loops_of_command(kind: str, service: str, monkeypatch) -> list[str]:
    loops = RecordingLoops()
    monkeypatch.setattr("services.cli._loops", lambda: loops)
    command = {"relay": cli.cmd_relay, "worker": cli.cmd_worker}[kind]
    command(argparse.Namespace(service=service, metrics_port=0, metrics_host="127.0.0.1"))
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
