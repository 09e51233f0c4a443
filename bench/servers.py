"""A private RabbitMQ node and PostgreSQL cluster for the fault suite.

The fault suite restarts the broker and the database. It must not restart the machine's own
(other test runs and services use them), so it runs its own: a RabbitMQ node and a PostgreSQL
cluster on free ports, with their data under the run's directory, removed afterwards. Both are
the machine's installed server binaries, only started a second time.

As root (this machine, CI) the servers run as their system users (`rabbitmq`, `postgres`), as
their packages expect; the run's directory is made readable for them.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on :{port} within {timeout:g} s")


def _as(user: str) -> list[str]:
    """Run a server command as its system user when we are root (initdb refuses root)."""
    return ["runuser", "-u", user, "--"] if os.geteuid() == 0 else []


def _owned_by(path: Path, user: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(path, user, user)


class PrivateRabbitMQ:
    """A RabbitMQ node of its own (`rabbitmq-server -detached` with its own name, ports, data
    and configuration) that can be stopped gracefully, killed, and started again."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "rabbitmq"
        _owned_by(self.dir, "rabbitmq")
        self.port, dist_port = free_port(), free_port()
        self.node = f"lotsefaults{self.port}@localhost"
        conf = self.dir / "rabbitmq.conf"
        # the machine's /etc/rabbitmq/rabbitmq.conf names port 5672; this node uses its own file
        conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "enabled_plugins").write_text("[].\n")
        self.env = {**os.environ, "RABBITMQ_NODENAME": self.node,
                    "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(dist_port),
                    "RABBITMQ_CONFIG_FILE": str(conf),
                    "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(self.dir / "log"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
                    "RABBITMQ_PID_FILE": str(self.dir / "pid")}
        if os.geteuid() == 0:
            for path in self.dir.iterdir():
                shutil.chown(path, "rabbitmq", "rabbitmq")
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self, timeout: float = 90) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port, timeout, f"RabbitMQ node {self.node}")
        self._ctl("await_startup", "--timeout", str(int(timeout)))

    def _ctl(self, *args: str) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.node, *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    def _pid(self) -> int | None:
        try:
            return int((self.dir / "pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self, *, kill: bool = False) -> None:
        """Graceful shutdown, or SIGKILL of the Erlang VM (a crash: nothing is flushed)."""
        pid = self._pid()
        if kill and pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        else:
            try:
                self._ctl("stop")
            except subprocess.CalledProcessError:
                pass
        deadline = time.monotonic() + 60
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)

    def restart(self, *, kill: bool = False, down_seconds: float = 3.0) -> None:
        self.stop(kill=kill)
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        self.stop(kill=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb + pg_ctl) that can be crash-restarted."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "postgres"
        _owned_by(self.dir, "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]).parent
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*_as("postgres"), str(self.bin / "pg_ctl"), "-D", str(self.data),
                        "-l", str(self.dir / "log"), "-w", "-t", "120", *args],
                       check=True, stdout=subprocess.DEVNULL, timeout=180)

    def start(self) -> None:
        if not self.data.exists():
            subprocess.run([*_as("postgres"), str(self.bin / "initdb"), "-D", str(self.data),
                            "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
                           check=True, stdout=subprocess.DEVNULL)
        self._pg_ctl("-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                           "-c max_connections=300", "start")

    def crash(self) -> None:
        """Stop in immediate mode: no checkpoint, connections cut, WAL replayed on start."""
        self._pg_ctl("-m", "immediate", "stop")

    def restart(self, down_seconds: float = 3.0) -> None:
        self.crash()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        try:
            self._pg_ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
