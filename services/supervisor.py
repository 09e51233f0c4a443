"""`lotse stack`'s supervisor: keeps every process of the local stack running.

A process that exits (crashed, killed, OOM) is started again after a delay that grows with
its recent restarts (LOTSE_STACK_RESTART_DELAYS, default 1, 2, 4, 8, 16 s: the n-th restart
within a minute waits the n-th delay). A process that needed more than
LOTSE_STACK_MAX_RESTARTS (default 5) restarts within 60 s is given up: one clear log line,
`lotse_stack_process_given_up{process}` is 1, and the other processes go on serving. Every
restart is logged and counted in `lotse_stack_process_restarts_total{process}`, served by the
supervisor on its own metrics port (`lotse stack --metrics-port`, default 9100).

Why not supervisord or circus: supervisord restarts a process that ran past `startsecs`
at once and without end (its growing back-off and its give-up cover only processes that die
while starting), has no rate limit per minute and no Prometheus metrics (an event-listener
process and a generated config would be needed for both); circus brings pyzmq and tornado,
waits a fixed time between restarts and exposes statsd, not Prometheus. The loop below is
the small part of either that the stack needs, and its tests drive it with a fake clock.
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from prometheus_client import Counter, Gauge

from services import processes

log = logging.getLogger("lotse.stack")

DEFAULT_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
DEFAULT_MAX_RESTARTS = 5  # within WINDOW_SECONDS; one more and the process is given up
WINDOW_SECONDS = 60.0

RESTARTS = Counter("lotse_stack_process_restarts",
                   "Processes of `lotse stack` its supervisor started again after they exited",
                   ["process"])
GIVEN_UP = Gauge("lotse_stack_process_given_up",
                 "1: the supervisor gave this process up (too many restarts within a minute)",
                 ["process"])
UP = Gauge("lotse_stack_process_up", "1 while the process runs under the supervisor",
           ["process"])


_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies


def _die_with_the_supervisor() -> None:
    """In the child, before exec (Linux): SIGTERM when the supervisor dies, even by SIGKILL,
    so no orphan keeps its port and a new `lotse stack` can start."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (AttributeError, OSError):  # not Linux: the supervisor's shutdown must do
        pass


def spawn_child(argv: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """`env`: added to the supervisor's own environment."""
    return subprocess.Popen(argv, preexec_fn=_die_with_the_supervisor,
                            env={**os.environ, **env} if env else None)


@dataclass
class Program:
    """One process the supervisor keeps running, and its record."""
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)  # added to the supervisor's
    proc: object = None  # subprocess.Popen (or a test's stand-in)
    restarts: deque = field(default_factory=deque)  # monotonic times of recent restarts
    due: float | None = None  # when to start it again, after it exited
    given_up: bool = False
    total_restarts: int = 0


class Supervisor:
    def __init__(self, commands: Sequence[tuple[str, list[str]]], *,
                 env: Mapping[str, Mapping[str, str]] | None = None,
                 delays: Sequence[float] = DEFAULT_DELAYS,
                 max_restarts: int = DEFAULT_MAX_RESTARTS, window: float = WINDOW_SECONDS,
                 spawn: Callable[[list[str], Mapping[str, str]], object] = spawn_child,
                 clock: Callable[[], float] = time.monotonic):
        """`env`: per program name, what to add to its environment."""
        if not delays:
            raise ValueError("at least one restart delay")
        self.programs = [Program(name, list(argv), dict((env or {}).get(name, {})))
                         for name, argv in commands]
        self.delays, self.max_restarts, self.window = tuple(delays), max_restarts, window
        self.spawn, self.clock = spawn, clock
        for program in self.programs:  # every series there from the start (alert rules)
            RESTARTS.labels(program.name)
            GIVEN_UP.labels(program.name).set(0)
            UP.labels(program.name).set(0)

    def start(self) -> None:
        for program in self.programs:
            self._launch(program)

    def _launch(self, program: Program) -> None:
        program.proc, program.due = self.spawn(program.argv, program.env), None
        UP.labels(program.name).set(1)

    def poll(self) -> None:
        """One round: note processes that exited, schedule or refuse their restart, start
        those whose delay has passed."""
        now = self.clock()
        for program in self.programs:
            if program.given_up:
                continue
            if program.due is None:
                code = program.proc.poll()
                if code is None:
                    continue
                UP.labels(program.name).set(0)
                self._exited(program, code, now)
            elif now >= program.due:
                self._launch(program)
                log.warning(f"{program.name} restarted (pid {getattr(program.proc, 'pid', '?')}, "
                            f"restart {program.total_restarts})", extra={
                    "program": program.name, "restarts": program.total_restarts,
                    "pid": getattr(program.proc, "pid", None)})

    def _exited(self, program: Program, code: int, now: float) -> None:
        while program.restarts and now - program.restarts[0] > self.window:
            program.restarts.popleft()
        if len(program.restarts) >= self.max_restarts:
            program.given_up = True
            GIVEN_UP.labels(program.name).set(1)
            log.error(f"giving up {program.name}: it exited (code {code}) after "
                      f"{len(program.restarts)} restarts within {self.window:.0f} s; the other "
                      "processes keep serving, restart the stack once the cause is fixed",
                      extra={"program": program.name, "exit_code": code})
            return
        delay = self.delays[min(len(program.restarts), len(self.delays) - 1)]
        program.restarts.append(now)
        program.total_restarts += 1
        program.due = now + delay
        RESTARTS.labels(program.name).inc()
        log.warning(f"{program.name} exited with {code}; restarting in {delay:g} s",
                    extra={"program": program.name, "exit_code": code, "delay": delay})

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.wait(interval):
            self.poll()

    def running(self) -> list:
        return [p.proc for p in self.programs
                if p.proc is not None and p.due is None and p.proc.poll() is None]

    def shutdown(self, timeout: float = 15.0) -> None:
        """SIGTERM every process, SIGKILL those still running after `timeout`."""
        procs = self.running()
        for proc in procs:
            proc.terminate()
        deadline = self.clock() + timeout
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def parse_replicas(text: str) -> dict[str, int]:
    """"worker:referral=2,relay:intake=2" or "relay=2,worker=2" (every relay, every bus
    worker) as {key: count}; the more specific key wins (see `replicas_of`)."""
    replicas = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, count = item.partition("=")
        key = key.strip()
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"replicas: {item!r} is not KIND[:SERVICE]=N (N ≥ 1)")
        kind, _, service = key.partition(":")
        if kind not in (processes.RELAY, processes.WORKER):
            raise ValueError(f"replicas: {key!r}: only relays and workers have replicas "
                             "(an HTTP server scales with --workers)")
        if service and service not in processes.services_with(kind):
            raise ValueError(f"replicas: {key!r}: there is no such {kind}")
        if service and int(count) > 1 and not processes.replicable(kind, service):
            raise ValueError(f"replicas: {key!r}: every loop of it runs once per deployment "
                             "(services/processes.py): it has no replicas")
        replicas[key] = int(count)
    return replicas


def replicas_of(replicas: dict[str, int], kind: str, service: str) -> int:
    if f"{kind}:{service}" in replicas:
        return replicas[f"{kind}:{service}"]
    if not processes.replicable(kind, service):  # "worker=2": the workers that can have them
        return 1
    return replicas.get(kind, 1)
