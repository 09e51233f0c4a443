"""Background loops of a process (relays, consumers, sweepers) and their clean shutdown."""
from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Callable, Protocol

log = logging.getLogger(__name__)
STALL_SECONDS = 120.0  # a loop not back at its stop event this long after it said: stalled


class StopSignal(Protocol):
    """What a loop may do with its stop event: a `threading.Event`, or in a `Loops` thread
    the `LoopProgress` standing for it (which is no Event: it cannot be cleared)."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


Loop = Callable[[StopSignal], None]  # what `Loops.start` runs: until its stop signal is set


class LoopProgress:
    """The stop event as one loop sees it: every look at it (`is_set`, `wait`) is a sign of
    life, so the liveness probe tells a loop that runs from one that hangs or has ended,
    without the loops knowing about probes. `wait(t)` promises the next look within t."""

    def __init__(self, name: str, stop: threading.Event, clock: Callable[[], float]):
        self.name, self._stop, self._clock = name, stop, clock
        self.due = clock() + STALL_SECONDS  # the next look is expected by then
        self.ended = False
        self.crashes = 0

    def beat(self, within: float = 0.0) -> None:
        """Seen alive; the next look is due within `within` seconds (plus the stall limit)."""
        self.due = self._clock() + within + STALL_SECONDS

    def is_set(self) -> bool:
        self.beat()
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self.beat(float("inf") if timeout is None else timeout)
        try:
            return self._stop.wait(timeout)
        finally:
            self.beat()

    def set(self) -> None:
        self._stop.set()

    def state(self) -> str:
        if self.ended:
            return "ended"
        return "stalled" if self._clock() > self.due else "ok"


@dataclass
class Loops:
    """Named threads that each run `target(stop)` until the shared stop event is set."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    progress: dict[str, LoopProgress] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    def start(self, name: str, target: Loop) -> None:
        progress = self.progress[name] = LoopProgress(name, self.stop, self.clock)

        def guarded() -> None:
            try:
                while not self.stop.is_set():
                    try:
                        target(progress)
                        return
                    except Exception:
                        progress.crashes += 1
                        log.exception("background loop crashed; restarting",
                                      extra={"loop": name})
                        progress.wait(2.0)
            finally:
                progress.ended = True

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def health(self) -> tuple[bool, dict[str, str]]:
        """Liveness: every loop still running and back at its stop event in time (a loop that
        ended before the process was told to stop, or hangs, fails it)."""
        states = {name: p.state() for name, p in self.progress.items()}
        return all(state == "ok" for state in states.values()), states

    def shutdown(self, timeout: float = 15.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT (Ctrl-C) and SIGTERM stop the process's loops cleanly."""
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
