"""The console's dead-letter store on its own: claims, races with the collector, batches
worked by two processes, interrupted replays, and reasons redacted for operators."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.ops import dead_letters, tables
from services.ops.app import create_app as ops_app
from services.ops.bootstrap import bootstrap
from shared.auth import Principal, issue_token
from shared.bus.causes import ParkCause, gave_up
from shared.bus.causes import parked as parked_reason
from shared.bus.parking import ParkedMessage
from shared.clock import utcnow
from shared.db import migrate

QUEUE = "lotse.referral.open_referrals"


class FakeLot:
    """Records what would go back into the work queues; `parked` is what the parking
    queues hold for the next collect."""

    def __init__(self):
        self.requeued: list[ParkedMessage] = []
        self.parked: list[ParkedMessage] = []
        self.on_requeue = None

    def collect(self, store, limit=200):
        taken, self.parked = self.parked, []
        if taken:
            store(taken)
        return len(taken)

    def requeue(self, message):
        self.requeued.append(message)
        if self.on_requeue:
            self.on_requeue(message)


@pytest.fixture
def engine(settings):
    ops = settings.for_service("ops")
    migrate("ops", ops.database_url)
    return bootstrap(ops).engine


def parked(n: int, reason="gave up after 6 attempts: ValueError: bad date '1990-13-45'"):
    return [ParkedMessage(QUEUE, f"e{i}", "intake.recorded", f'{{"id": "e{i}"}}', reason, 6)
            for i in range(n)]


def statuses(engine) -> list[str]:
    with engine.connect() as conn:
        return [r.status for r in conn.execute(select(tables.dead_letters)
                                               .order_by(tables.dead_letters.c.id))]


def only_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(tables.dead_letters.c.id)).scalar_one()


def test_two_replays_of_one_dead_letter_requeue_it_once(engine):
    lot = FakeLot()
    lot.parked = parked(1)
    dead_letters.collect(engine, lot)
    letter = only_id(engine)
    dead_letters.replay(engine, lot, letter, "ana")
    with pytest.raises(dead_letters.Conflict):
        dead_letters.replay(engine, lot, letter, "ben")
    assert len(lot.requeued) == 1 and statuses(engine) == ["replayed"]
    with engine.connect() as conn:
        assert [a.actor for a in conn.execute(select(tables.audit))] == ["ana"]


def test_a_replay_parked_again_before_it_is_marked_stays_visible(engine):
    """The consumer fails the replayed copy at once and the collector takes it before the
    replay marks its row: the row must end parked, counted twice, not `replayed`."""
    lot = FakeLot()
    lot.parked = parked(1)
    dead_letters.collect(engine, lot)

    def fails_again(message):
        lot.parked = [message]
        dead_letters.collect(engine, lot)
    lot.on_requeue = fails_again
    dead_letters.replay(engine, lot, only_id(engine), "ana")
    assert statuses(engine) == ["parked"]
    with engine.connect() as conn:
        assert conn.execute(select(tables.dead_letters.c.times_parked)).scalar_one() == 2


def test_a_failed_requeue_leaves_the_message_parked(engine):
    lot = FakeLot()
    lot.parked = parked(1)
    dead_letters.collect(engine, lot)

    def broker_down(message):
        raise ConnectionError("broker down")
    lot.on_requeue = broker_down
    with pytest.raises(ConnectionError):
        dead_letters.replay(engine, lot, only_id(engine), "ana")
    assert statuses(engine) == ["parked"]


def test_a_replay_cut_off_by_a_crash_is_finished_later(engine):
    lot = FakeLot()
    lot.parked = parked(1)
    dead_letters.collect(engine, lot)
    with engine.begin() as conn:  # claimed, then the process died
        conn.execute(tables.dead_letters.update().values(
            status="replaying", settled_at=utcnow() - timedelta(minutes=5)))
    assert dead_letters.finish_interrupted_replays(engine, lot) == 1
    assert statuses(engine) == ["replayed"] and len(lot.requeued) == 1


def test_a_batch_worked_by_two_processes_counts_every_message_once(engine):
    lot = FakeLot()
    lot.parked = parked(40)
    dead_letters.collect(engine, lot)
    batch = dead_letters.start_batch(engine, {"queue": QUEUE}, "ana")
    # a second worker takes every other message by hand meanwhile (a CLI run, say)
    with engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(tables.dead_letters.c.id))]
    for i in ids[::2]:
        dead_letters.replay(engine, lot, i, "ben")
    while dead_letters.batch(engine, batch["id"])["status"] == "running":
        dead_letters.work_on_batches(engine, lot, chunk=7)
    done = dead_letters.batch(engine, batch["id"])
    assert (done["done"], done["failed"], done["total"]) == (40, 0, 40)
    assert len(lot.requeued) == 40 and set(statuses(engine)) == {"replayed"}


def test_operators_see_reasons_without_the_values_they_quote(engine):
    lot = FakeLot()
    lot.parked = parked(1, reason="DataError: invalid input syntax for type date: "
                                  "\"1990-13-45\" [SQL: INSERT INTO persons ...] "
                                  "[parameters: {'family_name': 'Kovalenko'}]")
    dead_letters.collect(engine, lot)
    with engine.connect() as conn:
        [row] = dead_letters.listing(conn, {})
    masked = dead_letters.view(row, may_see_personal_data=False)["reason"]
    assert "1990-13-45" not in masked and "Kovalenko" not in masked
    assert masked.startswith("DataError: invalid input syntax for type date")
    assert "Kovalenko" in dead_letters.view(row, may_see_personal_data=True)["reason"]


def test_a_dead_letter_says_why_it_was_parked_in_words_and_can_be_chosen_by_cause(
        settings, engine):
    lot = FakeLot()
    lot.parked = [*parked(1, reason=parked_reason(ParkCause.HANDLER_FAILED, "KeyError: 'x'")),
                  ParkedMessage(QUEUE, "e1", "intake.recorded", '{"id": "e1"}',
                                gave_up(6, "OperationalError: refused"), 6),
                  ParkedMessage(QUEUE, "e2", "intake.recorded", '{"id": "e2"}',
                                "gave up after 6 attempts: ValueError: x", 6)]  # older wording
    dead_letters.collect(engine, lot)
    with engine.connect() as conn:
        [bug] = dead_letters.listing(conn, {"cause": "handler_failed"})
        assert len(dead_letters.listing(conn, {"cause": "gave_up"})) == 2
    shown = dead_letters.view(bug, may_see_personal_data=False)
    assert (shown["cause"], shown["reason"]) == ("handler_failed", "KeyError: •••")
    console = ops_app(settings.for_service("ops"), bootstrap(settings.for_service("ops")),
                      runtime=None).test_client()
    bearer = {"Authorization": "Bearer " + issue_token(console.application.secret_key,
                                                       Principal("op", "operator"))}
    page = console.get("/ops/dead-letters?cause=handler_failed", headers=bearer,
                       environ_base={"HTTP_ACCEPT_LANGUAGE": "de"}).get_data(as_text=True)
    assert re.findall(r'<td data-cause="(\w+)">([^<]+)<', page) == [
        ("handler_failed", "Verarbeitung fehlgeschlagen (Programmfehler oder Daten, die er "
                           "nicht annehmen kann)")]  # in words; the other cause filtered out
    assert console.get("/ops/dead-letters?cause=nonsense", headers=bearer).status_code == 400
    answer = console.get("/api/v1/ops/dead-letters?cause=gave_up", headers=bearer).get_json()
    assert [i["cause"] for i in answer["items"]] == ["gave_up", "gave_up"]
    assert console.get("/api/v1/ops/dead-letters?cause=x", headers=bearer).status_code == 422
