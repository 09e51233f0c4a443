"""Ending a benchmark run early: Ctrl-C, SIGTERM and a stack whose processes died end every
wait at once and tear the stack down (bench/halt.py, bench/run.py, bench/stack.py), shown
with fakes and short-lived processes instead of a stack."""
from __future__ import annotations

import os
import signal
import sys
import threading
import time

import pytest

from bench.halt import Halt, Interrupted, StackDied, signals_deferred
from bench.load import drive
from bench.people import People
from bench.ports import free_port
from bench.run import wait_drained
from bench.stack import Stack


class Window:
    """A fake flows.drained: counts its calls; drained from the `done_after`-th call on."""

    def __init__(self, done_after: int | None = None):
        self.calls, self.done_after = 0, done_after

    def __call__(self) -> tuple[int, int, bool]:
        self.calls += 1
        done = self.done_after is not None and self.calls >= self.done_after
        return 30, 30 if done else 10, True


def test_the_drain_loop_ends_once_every_referral_is_at_a_partner():
    window = Window(done_after=3)
    requested, opened, _ = wait_drained(window, time.monotonic() + 60, "test", Halt(),
                                        poll_seconds=0)
    assert (requested, opened, window.calls) == (30, 30, 3)


def test_the_drain_loop_gives_up_at_its_deadline():
    window = Window()
    requested, opened, _ = wait_drained(window, time.monotonic() + 0.2, "test", Halt(),
                                        poll_seconds=0.05)
    assert (requested, opened) == (30, 10) and window.calls >= 2


def test_the_drain_loop_stops_at_once_when_the_run_is_told_to_stop():
    halt, window = Halt(), Window()
    threading.Timer(0.2, halt.request, (signal.SIGTERM,)).start()
    began = time.monotonic()
    with pytest.raises(Interrupted) as stopped:
        wait_drained(window, time.monotonic() + 600, "test", halt, poll_seconds=30)
    assert stopped.value.signum == signal.SIGTERM
    assert time.monotonic() - began < 5 and window.calls == 1


def test_the_drain_loop_stops_polling_when_processes_of_the_stack_died():
    halt, window = Halt(), Window()
    dead: dict[str, int] = {}
    threading.Timer(0.2, dead.update, ({"worker-referral": -signal.SIGKILL},)).start()
    began = time.monotonic()
    with halt.watching(lambda: dict(dead), interval=0.05), pytest.raises(StackDied) as died:
        wait_drained(window, time.monotonic() + 600, "test", halt, poll_seconds=30)
    assert died.value.exited == {"worker-referral": -signal.SIGKILL}
    assert "worker-referral (killed by SIGKILL)" in str(died.value)
    assert time.monotonic() - began < 5 and window.calls == 1


def test_processes_the_teardown_ends_after_the_watch_are_no_failure():
    halt = Halt()
    with halt.watching(lambda: {"worker-referral": 0}, interval=60):
        with pytest.raises(StackDied):
            halt.check()
    halt.check()


def test_a_signal_raises_interrupted_once_and_the_handlers_are_restored():
    halt = Halt()
    before = signal.getsignal(signal.SIGTERM)
    with halt.on_signals():
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        os.kill(os.getpid(), signal.SIGINT)  # a second one while tearing down: noted only
        time.sleep(0.05)
    assert stopped.value.signum == signal.SIGTERM and str(stopped.value) == "SIGTERM"
    assert halt.signum == signal.SIGTERM and halt.event.is_set()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_signal_during_a_teardown_takes_effect_once_it_is_done():
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: seen.append(signum))
    try:
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            assert seen == []
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_load_run_ends_soon_after_it_is_told_to_stop():
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    began = time.monotonic()
    # nothing listens there: every request fails at once, the offer goes on for 60 s
    load = drive(f"http://127.0.0.1:{free_port()}/api/v1/intakes", People(seed=3), token=None,
                 clients=4, seconds=60, rate=10, stop=stop)
    assert time.monotonic() - began < 5
    assert 0 < len(load.requests) < 20


def _stack_of(tmp_path, **programs: str) -> Stack:
    stack = Stack(tmp_path, {"LOTSE_GATEWAY_PORT": "1", "LOTSE_INTAKE_PORT": "1"})
    for name, code in programs.items():
        stack.argv[name] = [sys.executable, "-c", code]
        stack.launch(name)
    return stack


def _wait_for_line(stack: Stack, name: str, line: str) -> None:
    deadline = time.monotonic() + 20
    while line not in stack.log_tail(name):
        assert time.monotonic() < deadline, f"{name} did not print {line!r}"
        time.sleep(0.05)


def test_stopping_the_stack_ends_paused_and_stubborn_processes_within_the_grace(tmp_path):
    stubborn = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('ready', flush=True); time.sleep(60)")
    stack = _stack_of(tmp_path, paused="import time; time.sleep(60)", stubborn=stubborn,
                      crashed="raise SystemExit(3)")
    _wait_for_line(stack, "stubborn", "ready")
    stack.pause(["paused"])
    stack.procs["crashed"].wait(20)
    assert stack.exited() == {"crashed": 3}
    began = time.monotonic()
    stack.stop(grace=0.5)
    assert time.monotonic() - began < 5
    assert set(stack.exited()) == {"paused", "stubborn", "crashed"}
    assert stack.exited()["stubborn"] == -signal.SIGKILL
