"""Messages delivered in batches (shared/bus/delivery.py deliver_batch): one transaction for
a batch, the same effects as one by one, duplicates and erased persons filtered with one
statement each, and a poison message isolated by retrying the batch message by message."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace

from sqlalchemy import event, func, select

from services.referral import tables
from services.referral.consumers import SUBSCRIPTIONS
from shared.bus.delivery import Verdict, deliver_batch
from shared.bus.embedded import EmbeddedBroker, EmbeddedConsumer, bus_messages
from shared.bus.topology import Subscription, build_topology
from shared.clock import utcnow
from shared.erasure import add_tombstones
from shared.outbox import OutgoingMessage
from tests.component.test_delivery import intake_recorded, rows



def open_referrals(envelope, uow):
    """A stand-in for the referral handler (its domain is not under test): one event per
    need, as it announces its referrals (any contract will do)."""
    for _need in envelope.data["needs"]:
        uow.emit("person.erased", subject=f"person/{envelope.data['intake_id']}",
                 data={"request_id": str(uuid.uuid4()), "person_id": envelope.data["intake_id"],
                       "service": "referral", "erased_at": uow.clock()})


# per event only: the subscription's own batch handler would bypass the stand-in
OPEN = replace(SUBSCRIPTIONS[0], handler=open_referrals, batch_handler=None)


def intakes(n: int) -> list[str]:
    return [intake_recorded(str(uuid.uuid4())) for _ in range(n)]


class Counting:
    """A uow factory counting the transactions (units of work) and the statements."""

    def __init__(self, deps):
        self.deps, self.units, self.statements = deps, 0, 0
        event.listen(deps.engine, "before_cursor_execute", self._statement)

    def _statement(self, *_args):
        self.statements += 1

    def __call__(self):
        self.units += 1
        return self.deps.uow()


def test_a_batch_has_the_effects_of_its_messages_in_one_transaction(referral_deps):
    counting = Counting(referral_deps)
    outcomes = deliver_batch(intakes(20), OPEN, counting)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * 20
    assert counting.units == 1
    assert rows(referral_deps, tables.outbox) == 60
    assert rows(referral_deps, tables.inbox) == 20


def test_one_by_one_and_in_a_batch_the_outbox_is_the_same(referral_deps, tmp_path):
    bodies = intakes(5)
    deliver_batch(bodies, OPEN, referral_deps.uow)
    with referral_deps.session_factory() as s:
        out = [json.loads(r.body) for r in s.execute(select(tables.outbox)
                                                     .order_by(tables.outbox.c.id))]
    # every event names the message that caused it, as when handled alone
    causes = {json.loads(b)["id"] for b in bodies}
    assert {e["causationid"] for e in out} == causes
    for body in bodies:
        cause = json.loads(body)
        mine = [e for e in out if e["causationid"] == cause["id"]]
        assert len(mine) == 3 and {e["correlationid"] for e in mine} == {cause["correlationid"]}


def test_redelivered_and_repeated_messages_in_a_batch_have_one_effect(referral_deps):
    first, second = intakes(2)
    deliver_batch([first], OPEN, referral_deps.uow)
    outcomes = deliver_batch([first, second, second], OPEN, referral_deps.uow)
    assert [(o.verdict, o.reason) for o in outcomes] == [
        (Verdict.ACK, "duplicate"), (Verdict.ACK, ""), (Verdict.ACK, "duplicate")]
    assert rows(referral_deps, tables.outbox) == 6


def test_a_poison_message_is_parked_alone_and_the_rest_of_its_batch_commits(referral_deps):
    good = intakes(4)
    doomed = str(uuid.uuid4())  # a valid event the handler fails on (a bug)
    counting = Counting(referral_deps)

    def fragile(envelope, uow):
        OPEN.handler(envelope, uow)
        if envelope.data["intake_id"] == doomed:
            raise ValueError("needs is not a list")

    sub = replace(OPEN, handler=fragile)
    outcomes = deliver_batch([good[0], intake_recorded(doomed), *good[1:]], sub, counting)
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.PARK] + [Verdict.ACK] * 3
    assert "needs is not a list" in outcomes[1].reason
    assert counting.units == 1 + 5  # the failed batch, then each message alone
    assert rows(referral_deps, tables.outbox) == 12
    assert rows(referral_deps, tables.inbox) == 4  # the poison message's mark rolled back


def test_a_payload_value_of_another_type_is_parked_alone_naming_its_field(referral_deps):
    """Consumers check the payload's field names and each value's type as they read it as a
    typed event, not the whole contract (that runs once, at the producer): a value of another
    type parks its message before the batch's transaction, and nothing of it is stored."""
    good = intakes(3)
    bad = json.loads(intake_recorded(str(uuid.uuid4())))
    bad["data"]["person"]["birth_date"] = 19860412
    routing = SUBSCRIPTIONS[0]  # the real set-based handler
    outcomes = deliver_batch([good[0], json.dumps(bad), *good[1:]], routing, referral_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.PARK, Verdict.ACK, Verdict.ACK]
    assert "birth_date" in outcomes[1].reason
    with referral_deps.session_factory() as s:
        intakes_referred = set(s.execute(select(tables.referrals.c.intake_id)).scalars())
    assert {str(i) for i in intakes_referred} == {json.loads(b)["data"]["intake_id"]
                                                  for b in good}
    assert rows(referral_deps, tables.inbox) == 3


def test_events_about_an_erased_person_are_dropped_with_one_query_per_batch(referral_deps):
    bodies = intakes(6)
    erased_intake = json.loads(bodies[2])["data"]["intake_id"]
    with referral_deps.session_factory() as s:
        add_tombstones(s, tables.erased, str(uuid.uuid4()),
                       {"person": [], "intake": [erased_intake], "referral": []}, utcnow())
        s.commit()
    counting = Counting(referral_deps)
    outcomes = deliver_batch(bodies, OPEN, counting)
    assert outcomes[2].reason == "about an erased person"
    assert rows(referral_deps, tables.outbox) == 15
    in_batch = counting.statements  # inbox, tombstones, then the handlers' work
    alone = Counting(referral_deps)
    deliver_batch([intakes(1)[0]], OPEN, alone)
    assert in_batch < 5 * alone.statements  # five messages' effects, their plumbing once


def test_a_batch_handler_is_called_once_with_the_new_events_in_order(referral_deps):
    seen: list[list[str]] = []

    def batch(envelopes, uow):
        seen.append([e.id for e in envelopes])

    sub = Subscription("referral", "probe", ("intake.recorded",), handler=lambda e, u: None,
                       batch_handler=batch, tombstones=tables.erased)
    bodies = intakes(3)
    deliver_batch([bodies[0]], sub, referral_deps.uow)
    deliver_batch(bodies, sub, referral_deps.uow)
    ids = [json.loads(b)["id"] for b in bodies]
    assert seen == [[ids[0]], ids[1:]]  # the first one seen before: not again


def test_the_embedded_consumer_hands_a_queue_its_messages_in_batches(referral_deps, tmp_path):
    sizes: list[int] = []

    def count(envelope, uow):
        pass

    def batch(envelopes, uow):
        sizes.append(len(envelopes))

    sub = Subscription("referral", "probe", ("intake.recorded",), count, batch_handler=batch)
    topology = build_topology("t", [sub], (0.05,))
    broker = EmbeddedBroker(f"sqlite:///{tmp_path / 'bus.db'}", topology)
    bodies = intakes(120)
    broker.publish_batch([OutgoingMessage(json.loads(b)["id"], "intake.recorded",
                                          "intake.recorded", "c", b) for b in bodies])
    consumer = EmbeddedConsumer(broker, [sub], referral_deps.uow, threads=2, batch=50)
    rows_ = broker.claim([topology.queue(sub)], 200)
    for part in consumer.batches(rows_):
        consumer.process_batch(part)
    assert sizes == [50, 50, 20]
    with broker.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(bus_messages)).scalar_one() == 0


def test_with_the_database_unreachable_a_batch_is_retried_whole_not_one_by_one(referral_deps):
    """Each of the 50 would wait for the database again: one attempt, every message RETRY."""
    from sqlalchemy.exc import OperationalError

    attempts = []

    def unreachable():
        attempts.append(1)
        raise OperationalError("connect", {}, ConnectionRefusedError("connection refused"))

    outcomes = deliver_batch(intakes(5), OPEN, unreachable)
    assert [o.verdict for o in outcomes] == [Verdict.RETRY] * 5
    assert len(attempts) == 1


def test_a_wants_that_fails_parks_its_message_only(referral_deps):
    bodies = intakes(3)
    doomed = json.loads(bodies[1])["id"]

    def wants(envelope):
        if envelope.id == doomed:
            raise KeyError("partner")
        return True

    outcomes = deliver_batch(bodies, replace(OPEN, wants=wants), referral_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK, Verdict.PARK, Verdict.ACK]
    assert "KeyError" in outcomes[1].reason
