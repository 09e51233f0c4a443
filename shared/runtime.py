"""Background loops of a process (relays, consumers, sweepers) and their clean shutdown."""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class Loops:
    """Named threads that each run `target(stop)` until the shared stop event is set."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, target: Callable[[threading.Event], None]) -> None:
        def guarded() -> None:
            while not self.stop.is_set():
                try:
                    target(self.stop)
                    return
                except Exception:
                    log.exception("background loop crashed; restarting", extra={"loop": name})
                    self.stop.wait(2.0)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def shutdown(self, timeout: float = 15.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGINT (Ctrl-C) and SIGTERM stop the process's loops cleanly."""
    def handler(signum, _frame):
        log.info("stopping", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
