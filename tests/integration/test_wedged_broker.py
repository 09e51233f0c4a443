"""A wedged broker (its port open, the AMQP handshake never answered) fails a test within
seconds, naming the cause, instead of kombu retrying until the run's time limit."""
from __future__ import annotations

import socket
import threading

import pytest

from tests.integration.conftest import require_amqp


def test_a_broker_that_never_answers_the_handshake_fails_the_test_at_once(monkeypatch):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []  # accepted, never answered
    threading.Thread(target=lambda: [held.append(listener.accept()) for _ in range(8)],
                     daemon=True).start()
    monkeypatch.setenv("CI", "true")
    try:
        with pytest.raises(pytest.fail.Exception, match="does not complete the AMQP handshake"):
            require_amqp(f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}//")
    finally:
        listener.close()
