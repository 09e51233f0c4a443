"""The fault suite's invariant checker: what must hold once the stack has settled.

It reads the stack's database (every service's tables live in one PostgreSQL database in the
distributed stack, each under its own names) and the broker's queue depths:

* settled: nothing the stack already owes could still change what the checker reads (see
  below), seen twice a few seconds apart;
* nothing lost: every accepted intake (201) is recorded; every outbox row was published and is
  in the inbox of every subscriber of its routing key (outboxes reconciled against inboxes);
  every need of every intake has a referral; every referral is at its partner (a case is open
  there), terminal, or an item of the staff work queue; no real event is parked;
* nothing doubled: one case per referral at each partner system (by the client's reference),
  none there that Lotse does not know, one referral per intake and need;
* every poison message parked, with its reason, from every queue its routing key reaches.

What "settled" means (`in_flight` is empty):

* no outbox row pending;
* no message in any work, retry, parking or extra (the tap's) queue, ready *or unacked*: a
  message a handler holds right now is work under way (its transaction may not have
  committed). The counts are read on the broker's node with `rabbitmqctl eval`, from each
  queue's current state (see queue_depths: `list_queues` and the management API report quorum
  queues' counts up to 5 s late, and the fault suite's private node has no management
  plugin); AMQP alone sees ready ones only;
* no one-off partner work owed, whenever its next attempt is due: a partner case still to be
  opened, a sandbox callback still to be sent, a notice (consent withdrawn, erasure) still to
  be sent, a cancellation still to be sent. Each changes what a partner holds, and a retry
  scheduled a minute ahead is exactly the late work a pass must not precede;
* no reminder due now, and no status poll overdue by more than POLL_GRACE. Reminders and polls
  recur in a settled system (every open case at a polling partner is read every few minutes,
  a reminder whenever a deadline nears): those planned for later are not in flight, only
  those the case loop has not caught up with. Other time-driven work (deadlines, expiry,
  retention) lies days ahead and is not in flight either.

One quiet observation is not enough: the database and the broker are read one after the
other, not as one snapshot, so a handler that commits (writing an outbox row or a partner
case) and acks in between is seen by neither read. `check` judges only after two quiet
observations, a few seconds apart.
"""
from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Mapping

from kombu import Connection
from sqlalchemy import and_, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.tap import Poison
from services.partner_adapter.tables import partner_cases, partner_notices
from services.referral.domain import TERMINAL
from shared.events.envelope import parse_envelope
from shared.bus.topology import Topology, topic_matches

BUS_SERVICES = ("intake", "referral", "partner_adapter", "ops")
# a status poll this late means the case loop is behind (it claims due polls every 0.2 s)
POLL_GRACE = timedelta(seconds=60)
CONFIRM_AFTER_SECONDS = 3.0  # between the two quiet observations before judging


@dataclass
class Findings:
    settled: bool = False
    waiting: dict[str, int] = field(default_factory=dict)  # what is still in flight
    lost: dict[str, list[str]] = field(default_factory=dict)
    duplicated: dict[str, list[str]] = field(default_factory=dict)
    poison_parked: int = 0
    poison_missing: list[str] = field(default_factory=list)
    flows: int = 0
    referrals: Counter = field(default_factory=Counter)  # by status

    @property
    def lost_count(self) -> int:
        return sum(len(v) for v in self.lost.values())

    @property
    def duplicated_count(self) -> int:
        return sum(len(v) for v in self.duplicated.values())

    @property
    def holds(self) -> bool:
        return (self.settled and not self.lost_count and not self.duplicated_count
                and not self.poison_missing)


@dataclass(frozen=True)
class Broker:
    """How the checker reads the broker: its AMQP URL and, to see unacked messages too, the
    node `rabbitmqctl -n` asks (with the environment its server was started with)."""

    url: str
    node: str | None = None
    env: Mapping[str, str] | None = None


# Read from each queue's own state, not from `rabbitmqctl list_queues` (or the management
# API): their counts of quorum queues are the metrics the queue emits every tick (5 s), so a
# message taken a moment ago shows up seconds later. The raft state machine's overview counts
# ready and checked-out (unacked) messages as of now; a classic queue (the tap's) answers
# itself. One tab-separated line per queue of the vhost.
_COUNT_QUEUES = """lists:foreach(fun(Q) ->
  {Ready, Unacked} = case amqqueue:get_type(Q) of
    rabbit_quorum_queue ->
      {ok, {_, O}, _} = ra:local_query(amqqueue:get_pid(Q), fun rabbit_fifo:overview/1),
      {maps:get(num_ready_messages, O), maps:get(num_checked_out, O)};
    _ ->
      I = rabbit_amqqueue:info(Q, [messages_ready, messages_unacknowledged]),
      {proplists:get_value(messages_ready, I), proplists:get_value(messages_unacknowledged, I)}
  end,
  io:format("~ts\\t~b\\t~b~n", [element(4, amqqueue:get_name(Q)), Ready, Unacked])
end, rabbit_amqqueue:list(<<"VHOST"/utf8>>))."""


def queue_depths(broker: Broker, names: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(ready, unacked) messages of each of these queues, as of now; a queue that does not
    exist has none. Without a node only ready messages are seen (AMQP's passive declare
    counts no others)."""
    names = list(names)
    if broker.node is None:
        return {name: (count, 0) for name, count in _ready_over_amqp(broker.url, names).items()}
    vhost = Connection(broker.url).virtual_host or "/"
    if '"' in vhost or "\\" in vhost:
        raise ValueError(f"cannot name vhost {vhost!r} to rabbitmqctl eval")
    # one call for the whole vhost (under a second): cheap enough every few seconds
    listed = subprocess.run(
        ["rabbitmqctl", "-n", broker.node, "-q", "eval", _COUNT_QUEUES.replace("VHOST", vhost)],
        env=dict(broker.env) if broker.env is not None else None, capture_output=True,
        text=True, check=True, timeout=60)
    counts = parse_queue_counts(listed.stdout)
    return {name: counts.get(name, (0, 0)) for name in names}


def parse_queue_counts(output: str) -> dict[str, tuple[int, int]]:
    """Lines of "name<TAB>ready<TAB>unacked" as {queue: (ready, unacked)}; other lines (the
    eval's own result) are skipped."""
    counts = {}
    for line in output.splitlines():
        fields = line.rsplit("\t", 2)
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            counts[fields[0]] = (int(fields[1]), int(fields[2]))
    return counts


def _ready_over_amqp(broker_url: str, names: list[str]) -> dict[str, int]:
    depths = {}
    with Connection(broker_url, connect_timeout=5) as conn:
        channel = conn.channel()
        for name in names:
            try:
                _, count, _ = channel.queue_declare(name, passive=True)
            except Exception:
                channel = conn.channel()  # a failed passive declare closes the channel
                count = 0
            depths[name] = count
        channel.close()
    return depths


def _scalar(conn, sql: str, **params) -> int:
    return conn.execute(text(sql), params).scalar() or 0


def in_flight(engine: Engine, broker: Broker | str, topology: Topology,
              extra_queues: Iterable[str] = (), now: datetime | None = None) -> dict[str, int]:
    """What has not settled yet (see the module's docstring); empty when the stack is quiet."""
    broker = Broker(broker) if isinstance(broker, str) else broker
    now = now or datetime.now(timezone.utc)
    cases, notices = partner_cases.c, partner_notices.c
    waiting = {}
    with engine.connect() as conn:
        for service in BUS_SERVICES:
            waiting[f"{service} outbox pending"] = _scalar(
                conn, f"SELECT count(*) FROM {service}_outbox WHERE status = 'pending'")
        waiting["partner cases pending"] = _count(conn, partner_cases, cases.status == "pending")
        waiting["partner callbacks pending"] = _scalar(
            conn, "SELECT count(*) FROM sandbox_callbacks WHERE status = 'pending'")
        waiting["partner notices pending"] = _count(conn, partner_notices,
                                                    notices.status == "pending")
        waiting["partner cancellations owed"] = _count(
            conn, partner_cases, and_(cases.status == "opened", cases.cancel_due_at.is_not(None)))
        waiting["partner reminders due"] = _count(
            conn, partner_cases, and_(cases.status == "opened", cases.reminder_due_at <= now))
        waiting["partner polls overdue"] = _count(
            conn, partner_cases, and_(cases.status == "opened",
                                      cases.next_poll_at <= now - POLL_GRACE))
    names = [spec["name"] for spec in topology.queue_specs()] + list(extra_queues)
    try:
        depths = queue_depths(broker, names)
    except Exception as exc:  # e.g. the node still starting: not settled, ask again later
        depths, waiting[f"broker unreadable ({type(exc).__name__})"] = {}, 1
    for queue, (ready, unacked) in depths.items():
        waiting[f"queue {queue}"] = ready
        waiting[f"queue {queue} unacked"] = unacked
    return {k: v for k, v in waiting.items() if v}


def _count(conn, table, where) -> int:
    return conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()


def check(engine: Engine, broker: Broker | str, topology: Topology, accepted: list[str],
          poison: list[Poison], unsettled: bool = False, extra_queues: Iterable[str] = (),
          confirm_after: float = CONFIRM_AFTER_SECONDS) -> Findings:
    """Judge the invariants once the stack has settled, seen quiet twice `confirm_after`
    seconds apart (meanwhile only what is in flight); with `unsettled`, judge regardless."""
    found = Findings()
    found.waiting = in_flight(engine, broker, topology, extra_queues)
    if not found.waiting and confirm_after:
        time.sleep(confirm_after)
        found.waiting = in_flight(engine, broker, topology, extra_queues)
    found.settled = not found.waiting
    if not (found.settled or unsettled):
        return found  # judged once everything has settled: meanwhile only what is in flight
    with engine.connect() as conn:
        _lost(conn, topology, accepted, found)
        _duplicated(conn, found)
        _parked(conn, topology, poison, found)
    with Session(engine) as session:
        _fallen_through(session, found)
    return found


def _lost(conn, topology: Topology, accepted: list[str], found: Findings) -> None:
    recorded = {row[0] for row in conn.execute(text("SELECT id FROM intakes"))}
    found.flows = len(recorded)
    found.lost["accepted intake not recorded"] = sorted(set(accepted) - recorded)
    for service in BUS_SERVICES:
        outbox = f"{service}_outbox"
        found.lost[f"{service} event not published"] = [r[0] for r in conn.execute(text(
            f"SELECT event_id FROM {outbox} WHERE status <> 'sent'"))]
        keys = [r[0] for r in conn.execute(text(f"SELECT DISTINCT routing_key FROM {outbox}"))]
        for sub in topology.subscriptions:
            matching = [k for k in keys if any(topic_matches(t, k) for t in sub.event_types)]
            if not matching:
                continue
            missing = [(event_id, body) for event_id, body in conn.execute(text(
                f"SELECT o.event_id, o.body FROM {outbox} o LEFT JOIN {sub.service}_inbox i "
                "ON i.event_id = o.event_id AND i.subscriber = :key "
                "WHERE o.routing_key = ANY(:keys) AND i.event_id IS NULL"),
                {"key": sub.key, "keys": matching})]
            # an event the subscription declares it does not want is acked without an inbox row
            found.lost[f"{service} event not processed by {sub.key}"] = [
                event_id for event_id, body in missing
                if sub.wants is None or sub.wants(parse_envelope(body))]
    needs = {(intake, need) for intake, codes in conn.execute(text(
        "SELECT id, needs FROM intakes")) for need in _codes(codes)}
    routed = {tuple(r) for r in conn.execute(text("SELECT intake_id, need FROM referrals"))}
    found.lost["need without a referral"] = sorted(f"{i}:{n}" for i, n in needs - routed)
    found.lost["real event parked"] = [f"{q}:{e}" for q, e, body in conn.execute(text(
        "SELECT queue, event_id, body FROM ops_dead_letters WHERE status = 'parked'"))
        if not _looks_poisoned(body)]
    found.lost = {k: v for k, v in found.lost.items() if v}


def _codes(needs) -> list[str]:
    import json

    values = json.loads(needs) if isinstance(needs, str) else needs
    return [n["code"] if isinstance(n, dict) else n for n in values]


def _looks_poisoned(body: str) -> bool:
    return "not an event" in body or '"schemaversion": 999' in body


def _duplicated(conn, found: Findings) -> None:
    found.duplicated["two cases at a partner for one referral"] = [
        f"{p}:{ref}" for p, ref, _ in conn.execute(text(
            "SELECT partner, coalesce(client_reference, idempotency_key), count(*) "
            "FROM sandbox_cases GROUP BY 1, 2 HAVING count(*) > 1"))]
    found.duplicated["case at a partner that Lotse does not know"] = [
        f"{p}:{ref}" for p, ref in conn.execute(text(
            "SELECT s.partner, s.reference FROM sandbox_cases s LEFT JOIN partner_cases c "
            "ON c.partner = s.partner AND c.partner_case_ref = s.reference "
            "WHERE c.id IS NULL"))]
    found.duplicated["two referrals for one need"] = [
        f"{i}:{n}" for i, n, _ in conn.execute(text(
            "SELECT intake_id, need, count(*) FROM referrals WHERE superseded_by IS NULL "
            "GROUP BY 1, 2 HAVING count(*) > 1"))]
    found.duplicated = {k: v for k, v in found.duplicated.items() if v}


def _parked(conn, topology: Topology, poison: list[Poison], found: Findings) -> None:
    parked = {(q, e) for q, e, reason in conn.execute(text(
        "SELECT queue, event_id, reason FROM ops_dead_letters")) if reason}
    for p in poison:
        for queue in topology.routes(p.routing_key):
            if (queue, p.id) in parked:
                found.poison_parked += 1
            else:
                found.poison_missing.append(f"{queue}:{p.id}")


def _fallen_through(session: Session, found: Findings) -> None:
    """Referrals neither at their partner, nor terminal, nor in the staff work queue."""
    from services.referral import repository

    now = datetime.now(timezone.utc)
    found.referrals.update(dict(session.execute(text(
        "SELECT status, count(*) FROM referrals WHERE superseded_by IS NULL GROUP BY 1")).all()))
    stuck = []
    for ref_id, status in session.execute(text(
            "SELECT id, status FROM referrals WHERE superseded_by IS NULL "
            "AND partner_case_ref IS NULL AND status <> ALL(:terminal)"),
            {"terminal": list(TERMINAL)}):
        if repository.get(session, ref_id).attention(now) is None:
            stuck.append(f"{ref_id}:{status}")
    if stuck:
        found.lost["referral neither at its partner, terminal nor in the work queue"] = stuck
