"""The fault suite's invariant checker: what must hold once the stack has settled.

It reads the stack's database (every service's tables live in one PostgreSQL database in the
distributed stack, each under its own names) and the broker's queue depths:

* settled: no outbox row pending, no message in any work, retry or parking queue, no partner
  case still to be opened, no partner callback still to be sent;
* nothing lost: every accepted intake (201) is recorded; every outbox row was published and is
  in the inbox of every subscriber of its routing key (outboxes reconciled against inboxes);
  every need of every intake has a referral; every referral is at its partner (a case is open
  there), terminal, or an item of the staff work queue; no real event is parked;
* nothing doubled: one case per referral at each partner system (by the client's reference),
  none there that Lotse does not know, one referral per intake and need;
* every poison message parked, with its reason, from every queue its routing key reaches.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from kombu import Connection
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bench.tap import Poison
from services.referral.domain import TERMINAL
from shared.events.envelope import parse_envelope
from shared.bus.topology import Topology, topic_matches

BUS_SERVICES = ("intake", "referral", "partner_adapter", "ops")


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


def queue_depths(broker_url: str, topology: Topology) -> dict[str, int]:
    depths = {}
    with Connection(broker_url, connect_timeout=5) as conn:
        channel = conn.channel()
        for spec in topology.queue_specs():
            try:
                _, count, _ = channel.queue_declare(spec["name"], passive=True)
            except Exception:
                channel = conn.channel()  # a failed passive declare closes the channel
                count = 0
            depths[spec["name"]] = count
        channel.close()
    return depths


def _scalar(conn, sql: str, **params) -> int:
    return conn.execute(text(sql), params).scalar() or 0


def in_flight(engine: Engine, broker_url: str, topology: Topology) -> dict[str, int]:
    """What has not settled yet; empty when the stack is quiet."""
    waiting = {}
    with engine.connect() as conn:
        for service in BUS_SERVICES:
            waiting[f"{service} outbox pending"] = _scalar(
                conn, f"SELECT count(*) FROM {service}_outbox WHERE status = 'pending'")
        waiting["partner cases pending"] = _scalar(
            conn, "SELECT count(*) FROM partner_cases WHERE status = 'pending'")
        waiting["partner callbacks pending"] = _scalar(
            conn, "SELECT count(*) FROM sandbox_callbacks WHERE status = 'pending'")
    for queue, depth in queue_depths(broker_url, topology).items():
        waiting[f"queue {queue}"] = depth
    return {k: v for k, v in waiting.items() if v}


def check(engine: Engine, broker_url: str, topology: Topology, accepted: list[str],
          poison: list[Poison], unsettled: bool = False) -> Findings:
    found = Findings()
    found.waiting = in_flight(engine, broker_url, topology)
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
