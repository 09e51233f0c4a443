"""Reading a run's outcome from the stack's database: when each intake was recorded and when
each of its referrals became a case at the partner.

Every service writes the events it emits to its outbox in the same transaction as its own
change, and a flow keeps the intake's correlation id from `intake.recorded` through
`referral.requested` to `partner_case.opened`. So the outboxes give, per flow, the commit time
of the intake and of each partner case, on one clock (the database server's machine).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import create_engine, text

from services.referral import consumers as referral_consumers


# the referral service's consumer of intake.recorded: its inbox row says the intake was routed
ROUTING_SUBSCRIBER = next(s.key for s in referral_consumers.SUBSCRIPTIONS
                          if "intake.recorded" in s.event_types)


@dataclass(frozen=True)
class Flow:
    correlation_id: str
    recorded_at: datetime
    opened_at: list[datetime]
    requested: int


def read_flows(db_url: str, since: datetime, until: datetime) -> list[Flow]:
    """Flows whose intake was recorded in [since, until)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            intakes = conn.execute(text(
                "SELECT correlation_id, created_at FROM intake_outbox "
                "WHERE event_type = 'intake.recorded' AND created_at >= :s AND created_at < :u"),
                {"s": since, "u": until}).all()
            ids = [row[0] for row in intakes]
            opened: dict[str, list[datetime]] = {}
            requested: dict[str, int] = {}
            for start in range(0, len(ids), 5000):
                chunk = ids[start:start + 5000]
                for cid, at in conn.execute(text(
                        "SELECT correlation_id, created_at FROM partner_adapter_outbox "
                        "WHERE event_type = 'partner_case.opened' "
                        "AND correlation_id = ANY(:ids)"), {"ids": chunk}):
                    opened.setdefault(cid, []).append(at)
                for cid, n in conn.execute(text(
                        "SELECT correlation_id, count(*) FROM referral_outbox "
                        "WHERE event_type = 'referral.requested' "
                        "AND correlation_id = ANY(:ids) GROUP BY correlation_id"),
                        {"ids": chunk}):
                    requested[cid] = n
    finally:
        engine.dispose()
    return [Flow(cid, at, sorted(opened.get(cid, [])), requested.get(cid, 0))
            for cid, at in intakes]


def drained(db_url: str, since: datetime, until: datetime) -> tuple[int, int, bool]:
    """(referrals requested, of them opened at the partner, whether the referral service has
    routed every intake of the window yet) for intakes recorded in the window."""
    flows = read_flows(db_url, since, until)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            # the subscriber named: the inbox's primary key (subscriber, event_id) answers
            # the join; by event_id alone it read the whole inbox every poll (~1 s of the
            # database's CPU every 2 s, taken from the stack being measured)
            recorded, routed = conn.execute(text(
                "SELECT count(*), count(r.event_id) FROM intake_outbox i "
                "LEFT JOIN referral_inbox r ON r.subscriber = :subscriber "
                "AND r.event_id = i.event_id "
                "WHERE i.event_type = 'intake.recorded' AND i.created_at >= :s "
                "AND i.created_at < :u"),
                {"s": since, "u": until, "subscriber": ROUTING_SUBSCRIBER}).one()
    finally:
        engine.dispose()
    return (sum(f.requested for f in flows),
            sum(min(len(f.opened_at), f.requested) for f in flows), routed >= recorded)


def cases_opened_per_second(db_url: str, since: datetime, until: datetime) -> dict[int, int]:
    """Partner cases opened per second in [since, until), of any flow: what the pipeline got
    through, also while it was still working off earlier phases' referrals."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return {int(second): n for second, n in conn.execute(text(
                "SELECT floor(extract(epoch FROM created_at - :s)) AS second, count(*) "
                "FROM partner_adapter_outbox WHERE event_type = 'partner_case.opened' "
                "AND created_at >= :s AND created_at < :u GROUP BY 1"),
                {"s": since, "u": until})}
    finally:
        engine.dispose()


def latencies_ms(flows: list[Flow]) -> list[float]:
    """Intake recorded -> partner case opened, one value per opened referral."""
    return [(at - f.recorded_at).total_seconds() * 1000 for f in flows for at in f.opened_at]


def opened_per_second(flows: list[Flow], start: datetime) -> dict[int, int]:
    buckets: dict[int, int] = {}
    for f in flows:
        for at in f.opened_at:
            second = int((at - start).total_seconds())
            buckets[second] = buckets.get(second, 0) + 1
    return buckets


def referrals_per_partner(db_url: str, since: datetime, until: datetime) -> dict[str, int]:
    """How many referrals of the window went to each partner (from referral.requested). The
    window's flows are looked up by their correlation ids (a join of the two outboxes on
    correlation_id took the database ~20 s after a surge)."""
    engine = create_engine(db_url)
    counts: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            ids = [row[0] for row in conn.execute(text(
                "SELECT correlation_id FROM intake_outbox WHERE event_type = 'intake.recorded' "
                "AND created_at >= :s AND created_at < :u"), {"s": since, "u": until})]
            for start in range(0, len(ids), 5000):
                for partner, n in conn.execute(text(
                        "SELECT body::json -> 'data' ->> 'partner', count(*) FROM referral_outbox "
                        "WHERE event_type = 'referral.requested' AND correlation_id = ANY(:ids) "
                        "GROUP BY 1"), {"ids": ids[start:start + 5000]}):
                    counts[partner] = counts.get(partner, 0) + n
    finally:
        engine.dispose()
    return counts


def partner_limit_bound(per_partner: dict[str, int]) -> dict:
    """The shortest drain the partners' configured rate limits allow (the shipped directory,
    shared/defaults/partners.json): each partner with a system takes at most its
    rate_limit_per_minute."""
    from shared.partners import DEFAULT_FILE, load_directory

    directory = load_directory(DEFAULT_FILE)
    seconds = {code: round(n / (directory[code].rate_limit_per_minute / 60), 1)
               for code, n in per_partner.items()
               if code in directory and directory[code].has_system}
    slowest = max(seconds, key=seconds.get) if seconds else None
    return {"seconds_per_partner": seconds, "bound_seconds": seconds.get(slowest),
            "bound_by": slowest}

