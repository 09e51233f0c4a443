"""The probes of relays and workers (shared/probes.py): liveness from their loops
(shared/runtime.py), readiness from their checks, on the metrics port beside /metrics."""
from __future__ import annotations

import threading

import pytest
import requests

from shared import runtime
from shared.probes import ProcessProbes, start_probe_server
from tests.conftest import free_port, in_ci, wait_until


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def loops():
    loops = runtime.Loops(clock=FakeClock())
    yield loops
    loops.shutdown(timeout=2)


def polling(stop):  # like a relay: looks at its stop event every round
    while not stop.is_set():
        stop.wait(0.01)


def test_loops_that_keep_coming_back_are_alive(loops):
    loops.start("relay", polling)
    loops.start("daily", lambda stop: stop.wait(86400))  # a long wait is announced
    wait_until(lambda: loops.progress["daily"].due > 86400)
    loops.clock.now += 3600  # the relay looks again at once; the daily loop said it would not
    assert wait_until(lambda: loops.health() == (True, {"relay": "ok", "daily": "ok"}))


def test_a_loop_that_ended_fails_liveness(loops):
    loops.start("relay", polling)
    loops.start("consumer", lambda stop: None)  # returned although nobody stopped it
    wait_until(lambda: loops.progress["consumer"].ended)
    assert loops.health() == (False, {"relay": "ok", "consumer": "ended"})


def test_a_loop_that_hangs_fails_liveness_once_overdue(loops):
    hang = threading.Event()

    def hanging(stop):
        while not stop.is_set():
            hang.wait()  # e.g. a call that never returns

    loops.start("relay", polling)
    loops.start("consumer", hanging)
    wait_until(lambda: loops.progress["consumer"].due > 0)
    assert loops.health()[0]
    loops.clock.now += runtime.STALL_SECONDS + 1
    assert wait_until(lambda: loops.health() == (False, {"relay": "ok",
                                                        "consumer": "stalled"}))
    hang.set()
    loops.stop.set()


def test_a_crashing_loop_is_restarted_and_counted(loops):
    calls = []

    def crashing(stop):
        calls.append(1)
        if len(calls) < 2:
            raise RuntimeError("boom")
        polling(stop)

    loops.stop.wait = lambda timeout=None: False  # the 2 s pause after a crash: none here
    loops.start("consumer", crashing)
    wait_until(lambda: len(calls) == 2)
    assert loops.progress["consumer"].crashes == 1 and loops.health()[0]


def test_a_long_retention_run_is_not_taken_for_a_hung_loop(loops):
    """A retention run may take long (a backlog after a restore): it says so first, so the
    probe does not have the busy worker killed; one that outlasts that is stalled."""
    from datetime import datetime, timezone

    from shared.retention import RUN_MAY_TAKE_SECONDS, RetentionScheduler

    running, finish = threading.Event(), threading.Event()

    def slow_job(now):
        running.set()
        finish.wait()
        return []

    scheduler = RetentionScheduler("intake", slow_job, lambda: datetime.now(timezone.utc),
                                   interval=3600)
    loops.start("retention", scheduler.run)
    assert running.wait(5)
    loops.clock.now += runtime.STALL_SECONDS + 60  # busy for longer than the stall limit
    assert loops.health() == (True, {"retention": "ok"})
    loops.clock.now += RUN_MAY_TAKE_SECONDS
    assert loops.health() == (False, {"retention": "stalled"})
    finish.set()
    loops.stop.set()


def test_readiness_names_the_failing_check():
    def down():
        raise ConnectionRefusedError("no broker")

    assert ProcessProbes().readiness()[0] == 503  # checks not known yet: starting
    probes = ProcessProbes(checks=[("database", lambda: None), ("bus", down)])
    assert probes.readiness() == (503, {"status": "unavailable", "checks": {
        "database": "ok", "bus": "unavailable: ConnectionRefusedError"}})
    probes.ready_when([("database", lambda: None), ("bus", lambda: None)])
    assert probes.readiness() == (200, {"status": "ok", "checks": {"database": "ok",
                                                                   "bus": "ok"}})


def test_the_metrics_port_serves_metrics_healthz_and_readyz(loops):
    loops.start("relay", polling)
    loops.start("consumer", lambda stop: None)
    wait_until(lambda: loops.progress["consumer"].ended)
    probes = ProcessProbes(loops)
    port = free_port()
    server = start_probe_server(port, "127.0.0.1", probes)
    try:
        base = f"http://127.0.0.1:{port}"
        r = requests.get(f"{base}/healthz", timeout=5)
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable", "loops": {"relay": "ok",
                                                               "consumer": "ended"}}
        r = requests.get(f"{base}/readyz", timeout=5)
        assert r.status_code == 503 and r.json()["checks"] == {"process": "starting"}
        probes.ready_when([("database", lambda: None)])
        r = requests.get(f"{base}/readyz", timeout=5)
        assert r.status_code == 200 and r.json() == {"status": "ok",
                                                     "checks": {"database": "ok"}}
        r = requests.get(f"{base}/metrics", timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
        assert "lotse_events_published" in r.text
        assert requests.get(f"{base}/nothing", timeout=5).status_code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_probes_listen_on_ipv6_too():
    import socket

    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
    except OSError as exc:
        if in_ci():
            raise
        pytest.skip(f"no IPv6 loopback on this machine ({exc})")
    server = start_probe_server(port, "::1", ProcessProbes())
    try:
        assert requests.get(f"http://[::1]:{port}/healthz", timeout=5).status_code == 200
    finally:
        server.shutdown()
        server.server_close()
