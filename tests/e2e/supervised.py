"""`lotse stack` itself (its supervisor and every process under it) for end-to-end tests: a
fresh database and bus prefix, secrets of the run's own, free ports for everything."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests
from prometheus_client.parser import text_string_to_metric_families

from sqlalchemy import create_engine

from services import registry
from services.cli import metrics_port, stack_commands
from services.supervisor import parse_replicas
from shared.config import Settings, generated_secrets
from tests.conftest import REPO, free_port, wait_until
from tests.integration.conftest import (BROKER_URL, delete_bus_objects, fresh_database,
                                        require)

HTTP = ("intake", "referral", "partner_adapter", "partner_sandbox", "ops", "reporting",
        "gateway")
DELAYS = (0.5, 1.0, 2.0)


def free_port_range(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1 now."""
    for _ in range(200):
        base = free_port()
        if base + count > 65000:
            continue
        held = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports")


class SupervisedStack:
    def __init__(self, proc: subprocess.Popen, env: dict, commands, log: Path):
        self.proc, self.env, self.log = proc, env, log
        self.commands = dict(commands)
        self.base = f"http://127.0.0.1:{env['LOTSE_GATEWAY_PORT']}"
        self.supervisor_metrics = f"http://127.0.0.1:{env['LOTSE_STACK_METRICS_PORT']}/metrics"
        self.metrics_ports = {name: metrics_port(argv) for name, argv in commands
                              if metrics_port(argv)}

    def pid_of(self, name: str) -> int | None:
        """The pid of the stack's process `name` (found by its own metrics port), if running."""
        port = str(self.metrics_ports[name])
        for child in psutil.Process(self.proc.pid).children():
            try:
                argv = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "--metrics-port" in argv and argv[argv.index("--metrics-port") + 1] == port \
                    and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        return None

    def probe(self, name: str, path: str) -> int | None:
        try:
            return requests.get(f"http://127.0.0.1:{self.metrics_ports[name]}{path}",
                                timeout=5).status_code
        except requests.RequestException:
            return None

    def scrape(self, name: str) -> dict:
        url = self.supervisor_metrics if name == "supervisor" else \
            f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"
        text = requests.get(url, timeout=10).text
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    def wait_ready(self, timeout: float = 120) -> None:
        def ready():
            assert self.proc.poll() is None, f"lotse stack exited; see {self.log}"
            for name in HTTP:
                port = self.env[f"LOTSE_{name.upper()}_PORT"]
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz",
                                    timeout=2).status_code != 200:
                        return False
                except requests.RequestException:
                    return False
            return all(self.probe(name, "/readyz") == 200 for name in self.metrics_ports)
        wait_until(ready, timeout=timeout, interval=0.5, message="every process of the stack")

    def settled_findings(self, intake_ids, timeout: float = 90):
        """The fault suite's invariant checker (bench/invariants.py) once the stack settled."""
        from bench.invariants import check

        topology = registry.topology(Settings.from_env("intake", self.env))
        engine = create_engine(self.env["LOTSE_DATABASE_URL"])
        try:
            return wait_until(lambda: (f := check(engine, BROKER_URL, topology, intake_ids, []))
                              .settled and f, timeout=timeout, interval=1, message="settled")
        finally:
            engine.dispose()


@contextmanager
def supervised_stack(tmp: Path, replicas: str = ""):
    require("127.0.0.1", 5672, "RabbitMQ")
    prefix = f"e2e{uuid.uuid4().hex[:8]}"
    commands = stack_commands(replicas=parse_replicas(replicas))
    base = free_port_range(sum(1 for _, argv in commands if metrics_port(argv)))
    commands = stack_commands(replicas=parse_replicas(replicas), metrics_base=base)
    with fresh_database("lotse_e2e") as db_url:
        env = {"LOTSE_DATA_DIR": str(tmp), "LOTSE_BROKER_URL": BROKER_URL,
               "LOTSE_DATABASE_URL": db_url, "LOTSE_BUS_PREFIX": prefix, **generated_secrets(),
               "LOTSE_RETRY_DELAYS": ",".join(map(str, DELAYS)), "LOTSE_LOG_FORMAT": "text",
               "LOTSE_SANDBOX_AUTO_ACCEPT": "0.5", "LOTSE_WORKER_THREADS": "4",
               "LOTSE_PARTNER_POLL_SECONDS": "0.5", "LOTSE_STACK_REPLICAS": replicas,
               "LOTSE_STACK_METRICS_PORT": str(free_port()),
               "LOTSE_STACK_METRICS_BASE_PORT": str(base),
               **{f"LOTSE_{name.upper()}_PORT": str(free_port()) for name in HTTP}}
        log = tmp / "stack.log"
        with open(log, "ab") as out:
            # a session of its own: should the supervisor die, its children go with the group
            proc = subprocess.Popen([sys.executable, "-m", "services.cli", "stack", "--demo"],
                                    cwd=REPO, env={**os.environ, **env}, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        stack = SupervisedStack(proc, env, commands, log)
        try:
            stack.wait_ready()
            yield stack
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
            except ProcessLookupError:
                pass
            proc.wait(10)
            delete_bus_objects(BROKER_URL, prefix, extra_delays=(DELAYS,))


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name
               and all(s.labels.get(k) == v for k, v in labels.items()))
