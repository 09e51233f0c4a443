"""The distributed stack for a benchmark run: its own database and bus prefix, every process
of `lotse stack` started separately so each one's CPU and memory can be read."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
import requests
from kombu import Connection
from sqlalchemy.engine import make_url

from services import registry
from bench.halt import signals_deferred
from bench.ports import free_port
from services.cli import metrics_port, migrate_all, seed_demo, stack_commands
from shared.bus.amqp import declare_topology
from shared.bus.topology import build_topology
from shared.config import Settings, generated_secrets

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("LOTSE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_URL = os.environ.get("LOTSE_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
HTTP = ("intake", "referral", "partner_adapter", "partner_sandbox", "ops", "reporting",
        "gateway")


@contextmanager
def fresh_database(prefix: str = "lotse_bench", admin: str = PG_ADMIN):
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(admin).set(drivername="postgresql+psycopg", database=name)
        yield name, url.render_as_string(hide_password=False)
    finally:
        with signals_deferred(), psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def delete_bus_objects(settings: Settings) -> None:
    topology = build_topology(settings.bus_prefix, registry.SUBSCRIPTIONS,
                              settings.retry_delays)
    with Connection(settings.broker_url) as conn:
        channel = conn.channel()
        for spec in topology.queue_specs():
            channel.queue_delete(spec["name"])
        for spec in topology.exchange_specs():
            channel.exchange_delete(spec["name"])
        channel.close()


@dataclass
class Usage:
    """CPU seconds and peak resident memory of one process and its children (gunicorn)."""
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    samples: list[tuple[float, float, float]] = field(default_factory=list)  # t, cpu %, rss MB


class Stack:
    """Every process of the distributed stack, with a sampler of their resource use."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir, self.env = workdir, env
        self.procs: dict[str, subprocess.Popen] = {}
        self.argv: dict[str, list[str]] = {}
        self.usage: dict[str, Usage] = {}
        self.base = f"http://127.0.0.1:{env['LOTSE_GATEWAY_PORT']}"
        # the intake service itself, not through the gateway: the same one hop as the bare
        # Flask baseline (the gateway is a convenience for `make run`, not the deployment's)
        self.intake = f"http://127.0.0.1:{env['LOTSE_INTAKE_PORT']}"
        self._stop = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self, workers: int) -> None:
        ports = {name: free_port() for name, argv in stack_commands() if metrics_port(argv)}
        for name, argv in stack_commands(sys.executable):
            argv = list(argv)
            if argv[3] == "serve":
                argv += ["--workers", str(workers)]
            if name in ports:
                argv[argv.index("--metrics-port") + 1] = str(ports[name])
            self.argv[name] = argv
            self.launch(name)
            self.usage[name] = Usage()
        deadline = time.monotonic() + 90
        for name in HTTP:
            url = f"http://127.0.0.1:{self.env[f'LOTSE_{name.upper()}_PORT']}/readyz"
            while True:
                if self.procs[f"serve-{name}"].poll() is not None:
                    raise RuntimeError(f"serve-{name} exited; see {self.workdir}")
                try:
                    if requests.get(url, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{url} did not answer within 90 s")
                time.sleep(0.3)
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def launch(self, name: str) -> None:
        """Start (or start again) one process of the stack, appending to its log."""
        with open(self.workdir / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(self.argv[name], cwd=REPO,
                                                env={**os.environ, **self.env},
                                                stdout=log, stderr=subprocess.STDOUT)

    def pause(self, names) -> None:
        """SIGSTOP these processes (and their children): they hold their state and resume."""
        self._signal(names, signal.SIGSTOP)

    def resume(self, names) -> None:
        self._signal(names, signal.SIGCONT)

    def _signal(self, names, sig) -> None:
        for name in names:
            for p in self._tree(name):
                try:
                    p.send_signal(sig)
                except psutil.NoSuchProcess:
                    pass

    def _tree(self, name: str) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.procs[name].pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        trees = {name: self._tree(name) for name in self.procs}
        for procs in trees.values():
            for p in procs:
                try:
                    p.cpu_percent(None)  # prime the counters
                except psutil.NoSuchProcess:
                    pass
        start = time.monotonic()
        while not self._stop.wait(1.0):
            for name, procs in trees.items():
                cpu = rss = 0.0
                for p in procs:
                    try:
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss / 2**20
                    except psutil.NoSuchProcess:
                        continue
                usage = self.usage[name]
                usage.samples.append((round(time.monotonic() - start, 1), cpu, rss))
                usage.peak_rss_mb = max(usage.peak_rss_mb, rss)

    def cpu_times(self) -> dict[str, float]:
        """User+system CPU seconds of each process tree so far, with the children it has
        reaped (a gunicorn worker that was replaced)."""
        out = {}
        for name in self.procs:
            total = 0.0
            for p in self._tree(name):
                try:
                    t = p.cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
                except psutil.NoSuchProcess:
                    continue
            out[name] = total
        return out

    def exited(self) -> dict[str, int]:
        """The processes no longer running, with their exit codes (negative: the signal)."""
        return {name: code for name, proc in list(self.procs.items())
                if (code := proc.poll()) is not None}

    def log_tail(self, name: str, lines: int = 5) -> str:
        """The last lines a process wrote: its log goes with the run's directory."""
        try:
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM to every process, then SIGKILL to whatever of their trees is left after
        `grace` seconds in all. Short: nothing of a benchmark's stack outlives it (its database
        and queues are deleted next), and Ctrl-C must not wait for each graceful shutdown."""
        self._stop.set()
        # only the running: an exited one's pid may name another process by now
        running = [name for name, proc in self.procs.items() if proc.poll() is None]
        # taken before the roots exit: gunicorn's workers are found through their master
        trees = [p for name in running for p in self._tree(name)]
        for name in running:
            self.procs[name].terminate()
        self.resume(running)  # a paused process acts on SIGTERM only once continued
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                pass
        for p in trees:
            try:
                p.kill()  # psutil checks the pid still names the same process
            except psutil.NoSuchProcess:
                pass
        for proc in self.procs.values():
            proc.wait()


def lifted_partner_limits(workdir: Path, per_minute: int = 100_000) -> Path:
    """A copy of the partner directory whose rate limits do not bind: the benchmark measures
    Lotse, not the limits partners impose (those give a bound of their own, see flows)."""
    from shared.partners import DEFAULT_FILE

    directory = json.loads(DEFAULT_FILE.read_text())
    for entry in directory["partners"]:
        entry["rate_limit_per_minute"] = per_minute
    path = workdir / "partners-unlimited.json"
    path.write_text(json.dumps(directory, indent=2))
    return path


@contextmanager
def running_stack(workdir: Path, workers: int = 2, extra_env: dict[str, str] | None = None,
                  partner_limits: bool = False, broker_url: str = BROKER_URL,
                  pg_admin: str = PG_ADMIN):
    """A migrated database, a declared topology under a fresh prefix, demo accounts, and every
    process of the stack; everything is removed afterwards. Partners' rate limits are lifted
    unless `partner_limits`. The machine's RabbitMQ and PostgreSQL unless others are named."""
    workdir.mkdir(parents=True, exist_ok=True)
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    if not partner_limits:
        extra_env = {"LOTSE_PARTNERS_FILE": str(lifted_partner_limits(workdir)),
                     **(extra_env or {})}
    with fresh_database(admin=pg_admin) as (db_name, db_url):
        # secrets of its own for each run: the stack's processes are a distributed deployment
        env = {"LOTSE_DATA_DIR": str(workdir), "LOTSE_BROKER_URL": broker_url,
               "LOTSE_DATABASE_URL": db_url, "LOTSE_BUS_PREFIX": prefix, **generated_secrets(),
               "LOTSE_SANDBOX_AUTO_ACCEPT": "", "LOTSE_LOG_LEVEL": "WARNING",
               **{f"LOTSE_{name.upper()}_PORT": str(free_port()) for name in HTTP},
               **(extra_env or {})}
        settings = Settings.from_env("intake", env)
        migrate_all(settings)
        stack = Stack(workdir, env)
        try:
            declare_topology(settings, registry.topology(settings))
            seed_demo(settings)
            stack.start(workers)
            stack.db_url = db_url
            stack.settings = settings
            yield stack
        finally:
            with signals_deferred():
                stack.stop()
                delete_bus_objects(settings)  # RabbitMQ deletes what is not there without error
