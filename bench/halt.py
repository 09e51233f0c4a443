"""Ending a benchmark run early and cleanly: on Ctrl-C or SIGTERM, or as soon as processes of
its stack have died, rather than polling a stack that is gone until a deadline passes."""
from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# name -> exit code of the stack's processes that are no longer running (Stack.exited)
Exited = Callable[[], dict[str, int]]
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was told to stop. A KeyboardInterrupt, so that libraries which clean up on
    Ctrl-C (psycopg cancels its running query) do so, and no `except Exception` hides it."""

    def __init__(self, signum: int):
        super().__init__(_signal_name(signum))
        self.signum = signum


class StackDied(RuntimeError):
    """Processes of the stack exited while the run still needed them."""

    def __init__(self, exited: dict[str, int]):
        super().__init__("processes of the stack exited: " + ", ".join(
            f"{name} ({_exit_status(code)})" for name, code in sorted(exited.items())))
        self.exited = exited


class Halt:
    """Why the run must end before its phases are done, if it must. `event` is set the moment
    a signal arrives or a watched process exits, so load clients and polling loops wake at
    once; `check()` raises the reason in the main thread."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._exited: Exited = dict

    def request(self, signum: int) -> bool:
        """Record a signal to stop; True if it is the first."""
        first = self.signum is None
        if first:
            self.signum = signum
        self.event.set()
        return first

    def check(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum)
        exited = self._exited()
        if exited:
            self.event.set()
            raise StackDied(exited)

    def wait(self, seconds: float) -> None:
        """Sleep up to `seconds`, waking at once if the run must end, then check."""
        self.event.wait(max(seconds, 0.0))
        self.check()

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM end the run: the first raises Interrupted in the main thread, so
        the phase in progress ends and the stack's teardown runs; later ones only say so.

        Installed even where SIGINT was inherited as ignored (a script's background job): the
        stack's processes stop on it anyway (services/cli.py), and a run left without them
        would only poll until its deadline."""
        def handler(signum, _frame):
            if self.request(signum):
                raise Interrupted(signum)
            print("bench: already stopping, tearing the stack down", file=sys.stderr,
                  flush=True)

        previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old if old is not None else signal.SIG_DFL)

    @contextmanager
    def watching(self, exited: Exited, interval: float = 1.0) -> Iterator[None]:
        """While inside, processes that exit end the run: `event` is set within `interval`
        (load clients stop posting to a dead stack) and `check()` raises StackDied."""
        done = threading.Event()

        def watch() -> None:
            while not done.wait(interval):
                if exited():
                    self.event.set()
                    return

        self._exited = exited
        watcher = threading.Thread(target=watch, name="stack-watch", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            self._exited = dict  # the teardown that follows ends them: no failure


@contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM take effect only once the block is done: a second Ctrl-C must not cut
    a teardown short and leave processes, a database or queues behind. Only the main thread
    receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: arrived.append(signum))
                for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        if arrived:
            signal.raise_signal(arrived[0])


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _exit_status(code: int) -> str:
    return f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}"
