"""Free local ports for the stacks the benchmark, the fault suite and the tests start."""
from __future__ import annotations

import socket
import threading

_handed_out: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    """A port free on 127.0.0.1 now and not handed out before by this process: callers bind
    it later, so two calls in a row must not get the same port (the kernel may offer it
    again while nobody holds it), or two processes of a stack would share one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with _lock:
            if port not in _handed_out:
                _handed_out.add(port)
                return port
