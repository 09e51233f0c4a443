"""`lotse stack`'s supervisor (services/supervisor.py), driven by a fake clock and stand-in
processes: restarts with growing delays, a give-up after too many restarts within a minute,
the others untouched, every restart counted; replicas and their metrics ports."""
from __future__ import annotations

import logging
import os

import pytest
from prometheus_client import REGISTRY

from services import processes
from services.cli import metrics_port, stack_commands
from services.supervisor import Supervisor, parse_replicas, replicas_of
from tests.conftest import REPO


class FakeProc:
    def __init__(self, argv, pid, env=None):
        self.argv, self.pid, self.returncode, self.env = argv, pid, None, env

    def poll(self):
        return self.returncode

    def die(self, code=-9):
        self.returncode = code


class Harness:
    def __init__(self, names=("worker-referral", "relay-intake", "serve-intake"), **options):
        self.now, self.spawned = 1000.0, []
        self.sup = Supervisor([(n, [n]) for n in names], spawn=self.spawn,
                              clock=lambda: self.now, **options)
        self.sup.start()

    def spawn(self, argv, env):
        proc = FakeProc(argv, len(self.spawned) + 1, env)
        self.spawned.append(proc)
        return proc

    def proc(self, name):
        return next(p.proc for p in self.sup.programs if p.name == name)

    def advance(self, seconds):
        self.now += seconds
        self.sup.poll()


def restarts(name):
    return REGISTRY.get_sample_value("lotse_stack_process_restarts_total", {"process": name}) or 0


def test_an_exited_process_is_started_again_after_a_delay_and_the_others_keep_running(caplog):
    h = Harness(names=("worker-a", "relay-a", "serve-a"), delays=(1, 2, 4))
    before, others = restarts("worker-a"), [h.proc("relay-a"), h.proc("serve-a")]
    killed = h.proc("worker-a")
    killed.die()
    with caplog.at_level(logging.INFO, logger="lotse.stack"):
        h.advance(0.2)  # noticed: due in 1 s, not started yet
        assert h.proc("worker-a") is killed
        h.advance(1.0)
    fresh = h.proc("worker-a")
    assert fresh is not killed and fresh.argv == ["worker-a"] and fresh.poll() is None
    assert [h.proc("relay-a"), h.proc("serve-a")] == others  # untouched
    assert len(h.spawned) == 4
    assert restarts("worker-a") == before + 1
    assert any("worker-a exited with -9; restarting in 1 s" in r.getMessage()
               for r in caplog.records)
    assert any(r.getMessage() == f"worker-a restarted (pid {fresh.pid}, restart 1)"
               and r.program == "worker-a" for r in caplog.records)


def test_delays_grow_with_restarts_within_a_minute_and_reset_after_a_quiet_one():
    h = Harness(names=("worker-b",), delays=(1, 2, 4), max_restarts=10)
    waited = []
    for _ in range(4):
        h.proc("worker-b").die()
        h.advance(0)
        waited.append(h.sup.programs[0].due - h.now)
        h.advance(waited[-1])
    assert waited == [1, 2, 4, 4]  # the last delay repeats
    h.advance(61 + 60)  # a quiet minute and more: its restarts are forgotten
    h.proc("worker-b").die()
    h.advance(0)
    assert h.sup.programs[0].due - h.now == 1


def test_too_many_restarts_within_a_minute_give_the_process_up_and_only_it(caplog):
    h = Harness(names=("relay-c", "worker-c"), delays=(1,), max_restarts=3)
    for _ in range(3):
        h.proc("relay-c").die()
        h.advance(0.1)
        h.advance(1)
    assert restarts("relay-c") >= 3 and not h.sup.programs[0].given_up
    spawned = len(h.spawned)
    h.proc("relay-c").die(1)
    with caplog.at_level(logging.ERROR, logger="lotse.stack"):
        h.advance(0.1)
    for _ in range(5):
        h.advance(30)
    assert h.sup.programs[0].given_up and len(h.spawned) == spawned  # not started again
    assert REGISTRY.get_sample_value("lotse_stack_process_given_up",
                                     {"process": "relay-c"}) == 1
    assert any(r.getMessage().startswith("giving up relay-c: it exited (code 1) after 3 "
                                         "restarts within 60 s; the other processes keep "
                                         "serving") for r in caplog.records)
    worker = h.proc("worker-c")  # still supervised
    worker.die()
    h.advance(0.1)
    h.advance(1)
    assert h.proc("worker-c") is not worker and len(h.spawned) == spawned + 1


def test_replicas_setting():
    assert parse_replicas("worker:referral=2, relay:intake=3,") == {
        "worker:referral": 2, "relay:intake": 3}
    assert parse_replicas("relay=2,worker=2") == {"relay": 2, "worker": 2}
    assert parse_replicas("worker:partner_sandbox=1") == {"worker:partner_sandbox": 1}
    for bad in ("worker:referral", "serve:intake=2", "worker=0", "relay=x",
                "relay:partner_sandbox=2", "worker:nobody=2"):
        with pytest.raises(ValueError):
            parse_replicas(bad)


def test_a_process_that_runs_only_once_loops_has_no_replicas():
    """The sandbox's worker runs only its notifier, declared to run once per deployment
    (services/processes.py): the rule comes from that declaration."""
    assert [loop.once for loop in processes.RUNTIMES["partner_sandbox"].loops] == [True]
    assert not processes.replicable(processes.WORKER, "partner_sandbox")
    assert processes.replicable(processes.WORKER, "ops")  # its console runs once, the rest not
    with pytest.raises(ValueError, match="runs once per deployment"):
        parse_replicas("worker:partner_sandbox=2")
    assert replicas_of(parse_replicas("worker=3"), processes.WORKER, "partner_sandbox") == 1
    assert replicas_of(parse_replicas("worker=3"), processes.WORKER, "ops") == 3


def test_only_the_first_replica_of_a_worker_runs_its_once_loops():
    commands = dict(stack_commands("py", replicas=parse_replicas("worker=3,relay=2")))
    assert "--skip-once-loops" not in commands["worker-ops"]
    assert commands["worker-ops-2"][-1] == commands["worker-ops-3"][-1] == "--skip-once-loops"
    # nothing to leave out: the other replicas' command lines are the first's
    assert not [name for name, argv in commands.items()
                if "--skip-once-loops" in argv and not name.startswith("worker-ops-")]


def test_the_supervisor_starts_a_process_with_its_own_additions_to_the_environment():
    h = Harness(names=("worker-e", "serve-e"), env={"serve-e": {"LOTSE_X": "1"}})
    assert h.proc("serve-e").env == {"LOTSE_X": "1"} and h.proc("worker-e").env == {}
    h.proc("serve-e").die()
    h.advance(0.1)
    h.advance(1)
    assert h.proc("serve-e").env == {"LOTSE_X": "1"}  # and again after a restart


def test_replicas_run_under_names_and_metrics_ports_of_their_own():
    default = stack_commands("py")
    assert [n for n, _ in default if n.startswith("relay-")] == [
        "relay-intake", "relay-referral", "relay-partner_adapter", "relay-ops",
        "relay-reporting"]
    commands = stack_commands("py", replicas=parse_replicas(
        "relay=2,worker=2,worker:ops=3,relay:ops=1"), metrics_base=20000)
    names = [n for n, _ in commands]
    assert len(names) == len(set(names))
    assert {"relay-intake", "relay-intake-2", "worker-referral-2", "worker-ops-3",
            "worker-partner_sandbox"} <= set(names)
    assert "relay-ops-2" not in names and "worker-partner_sandbox-2" not in names
    argv = dict(commands)
    assert argv["worker-ops-3"][3:5] == ["worker", "ops"]
    ports = [metrics_port(a) for _, a in commands if metrics_port(a)]
    assert len(ports) == len(set(ports)) == len(names) - 7  # every relay and worker, no clash
    assert min(ports) == 20000


def test_shutdown_terminates_what_runs():
    h = Harness(names=("worker-d", "relay-d"))
    terminated = []
    for program in h.sup.programs:
        program.proc.terminate = lambda p=program.proc: (terminated.append(p), p.die(-15))
        program.proc.wait = lambda timeout=None: None
    h.sup.shutdown(timeout=1)
    assert len(terminated) == 2


def test_lotse_stack_refuses_a_wrong_replicas_setting_before_starting_anything(
        tmp_path, monkeypatch):
    from services.cli import main

    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("LOTSE_BROKER_URL", raising=False)
    monkeypatch.setenv("LOTSE_STACK_REPLICAS", "worker:referral=2")
    monkeypatch.setattr("services.cli.configure_logging", lambda *a, **k: None)
    umask = os.umask(0o022)
    try:
        with pytest.raises(SystemExit) as exited:
            main(["stack", "--replicas", "serve:intake=2"])
    finally:
        os.umask(umask)
    assert "only relays and workers have replicas" in str(exited.value)


def test_a_child_ends_when_its_supervisor_is_killed_outright():
    """SIGKILL of `lotse stack` itself leaves no orphan holding its port (Linux)."""
    import signal as signals
    import subprocess
    import sys
    import time as clock

    parent_code = (
        "import sys, time\n"
        "from services.supervisor import spawn_child\n"
        "child = spawn_child([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE,
                              text=True, cwd=str(REPO))
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signals.SIGKILL)
    parent.wait()

    def ended() -> bool:
        try:
            with open(f"/proc/{child}/stat") as stat:
                return stat.read().split()[2] in ("Z", "X")  # a zombie has ended
        except FileNotFoundError:
            return True
    deadline = clock.monotonic() + 10
    while not ended() and clock.monotonic() < deadline:
        clock.sleep(0.05)
    try:
        assert ended(), "the child outlived its supervisor"
    finally:
        if not ended():
            os.kill(child, signals.SIGKILL)
