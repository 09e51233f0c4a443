"""On PostgreSQL a relay in a process of its own hears of committed events at once (LISTEN/
NOTIFY, shared/outbox.py listen_for_commits) instead of on its next poll: each hop of a flow
would otherwise wait up to the relay's idle time."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace

from services.intake.bootstrap import bootstrap
from shared.outbox import OutboxRelay
from tests.conftest import embedded_settings, wait_until
from tests.fakes import RecordingPublisher


def test_a_commit_in_another_process_wakes_an_idle_relay(tmp_path, pg_url):
    settings = replace(embedded_settings(tmp_path).for_service("intake"), database_url=pg_url)
    relay_deps, producer_deps = bootstrap(settings), bootstrap(settings)  # two "processes"
    publisher = RecordingPublisher()
    relay = OutboxRelay(relay_deps.engine, relay_deps.outbox, publisher)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"idle": 60.0},
                              daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # listening, and idle: the next poll is a minute away
        relay.wake.clear()
        committed = time.monotonic()
        with producer_deps.uow() as uow:  # its own engine: only the database can tell
            person = str(uuid.uuid4())
            uow.emit("person.erased", subject=f"person/{person}", data={
                "request_id": str(uuid.uuid4()), "person_id": person, "service": "intake",
                "erased_at": uow.clock()})
            uow.commit()
        wait_until(lambda: publisher.published, timeout=5, message="the event relayed")
        assert time.monotonic() - committed < 5
    finally:
        stop.set()
        relay.wake.set()
        thread.join(10)
        relay_deps.engine.dispose()
        producer_deps.engine.dispose()


def test_a_rolled_back_transaction_wakes_nobody(tmp_path, pg_url):
    settings = replace(embedded_settings(tmp_path).for_service("intake"), database_url=pg_url)
    deps = bootstrap(settings)
    woken, stop = threading.Event(), threading.Event()
    from shared.outbox import listen_for_commits

    thread = threading.Thread(target=listen_for_commits,
                              args=(deps.engine, deps.outbox, woken, stop), daemon=True)
    thread.start()
    try:
        wait_until(woken.is_set, timeout=5, message="listening")  # set once at the start
        woken.clear()
        with deps.uow() as uow:
            person = str(uuid.uuid4())
            uow.emit("person.erased", subject=f"person/{person}", data={
                "request_id": str(uuid.uuid4()), "person_id": person, "service": "intake",
                "erased_at": uow.clock()})
            uow.rollback()
        assert not woken.wait(1.5)
    finally:
        stop.set()
        thread.join(10)
        deps.engine.dispose()
