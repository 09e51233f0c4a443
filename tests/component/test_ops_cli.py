"""`lotse ops`: dead letters listed, replayed with a progress bar, discarded with a note;
a flow traced from the command line."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from services import registry
from services.cli import main
from services.ops import tables
from services.ops.bootstrap import bootstrap
from shared.bus.embedded import EmbeddedBroker, bus_messages
from shared.clock import utcnow
from shared.events.envelope import new_envelope


@pytest.fixture
def env(lotse_command_env):
    return lotse_command_env("ops")


def park(settings, n: int) -> list[str]:
    topology = registry.topology(settings)
    queue = next(topology.queue(s) for s in topology.subscriptions if s.key == "ops.journal")
    broker, now, ids = EmbeddedBroker(settings.bus_url, topology), utcnow(), []
    for _ in range(n):
        e = new_envelope("consent.withdrawn", 1, "intake", "intake/x", {
            "person_id": str(uuid.uuid4()), "consent_id": str(uuid.uuid4()),
            "partner": "welfare", "withdrawn_at": now, "withdrawn_by": "staff", "reason": None})
        ids.append(e.id)
        with broker.engine.begin() as conn:
            conn.execute(bus_messages.insert().values(
                queue=queue, event_id=e.id, routing_key=e.type, body=e.to_json(),
                status="parked", attempts=3, available_at=now, created_at=now,
                reason="gave up after 3 attempts: OperationalError: disk full"))
    return ids


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_list_replay_with_progress_and_discard(env, capsys):
    park(env, 30)
    assert run(["ops", "dlq", "list"]) == 0
    out, err = capsys.readouterr()
    assert out.count("ops.journal") == 30 and "disk full" in out and "30 parked" in err

    engine = bootstrap(env).engine
    with engine.connect() as conn:
        first = conn.execute(select(tables.dead_letters.c.id).order_by(
            tables.dead_letters.c.id)).scalars().first()
    assert run(["ops", "dlq", "discard", str(first), "--note", "test data"]) == 0
    assert run(["ops", "dlq", "replay", "--reason", "disk full"]) == 0
    out, err = capsys.readouterr()
    assert "replayed 29, failed 0" in out
    assert "replaying" in err and "29/29" in err  # the progress bar
    with engine.connect() as conn:
        statuses = [r.status for r in conn.execute(select(tables.dead_letters))]
        actors = {r.actor for r in conn.execute(select(tables.audit))}
    assert sorted(statuses) == ["discarded"] + ["replayed"] * 29
    assert all(a.startswith("cli:") or a.startswith("batch/") for a in actors)
    broker = EmbeddedBroker(env.bus_url, registry.topology(env))
    assert sum(d["ready"] for d in broker.depths().values()) == 29  # back in their queue


def test_discard_needs_a_note_and_replay_needs_a_selection(env, capsys):
    park(env, 1)
    assert run(["ops", "dlq", "replay"]) != 0
    with pytest.raises(SystemExit):
        main(["ops", "dlq", "discard", "1"])  # --note is required
    assert "--note" in capsys.readouterr().err


def test_trace_from_the_command_line(env, capsys):
    from services.ops import handlers
    from shared.events.envelope import parse_envelope

    deps = bootstrap(env)
    first = new_envelope("consent.withdrawn", 1, "intake", "intake/x", {
        "person_id": str(uuid.uuid4()), "consent_id": str(uuid.uuid4()), "partner": "welfare",
        "withdrawn_at": utcnow(), "withdrawn_by": "staff", "reason": None})
    with deps.uow() as uow:
        handlers.record_in_journal(parse_envelope(first.to_json()), uow)
        uow.commit()
    assert run(["ops", "trace", first.correlationid]) == 0
    out = capsys.readouterr().out
    assert "1 events" in out and "consent.withdrawn" in out
    assert run(["ops", "trace", first.id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"][0]["event_id"] == first.id
    assert run(["ops", "trace", "nothing-like-this"]) != 0
