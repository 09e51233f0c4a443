"""The reporting service in `make bench` (issue 21, item 7): does it keep up with the pipeline,
and does a report over a year of the centre answer within a second?

1. Live: during the surge the stack's reporting worker counts the events the pipeline
   publishes (intake.recorded, referral.requested, referral.status_changed ...). Read from the
   stack's database: how many of them the producers staged in their outboxes and at what rate,
   how many facts reporting applied and at what rate, and how long after the last event was
   staged reporting had counted it (its lag).
2. Capacity: the demo year (services/reporting/demo_year.py, 32,000 consultations and about
   96,000 referrals at scale 1) given to the reporting service's subscription as its consumer
   takes them (batches, inbox, one transaction each): the events per second one consumer
   applies, on PostgreSQL.
3. Reports: over that year, the summary and the consultations and referrals reports through
   the reporting service's HTTP API (a management token), each called several times: p50/p95.
"""
from __future__ import annotations

import time
from datetime import datetime

import requests
from sqlalchemy import create_engine, text

from bench.halt import Halt
from bench.load import percentiles, token_for
from services.reporting.domain import COUNTED_TYPES

YEAR = 2022
REPORTS = {
    "summary": f"summary?from={YEAR}-01-01&to={YEAR}-12-31",
    "consultations_by_site_and_nationality_group":
        f"consultations?from={YEAR}-01-01&to={YEAR}-12-31&by=site,nationality_group",
    "consultations_by_month_and_language":
        f"consultations?from={YEAR}-01-01&to={YEAR}-12-31&by=language&interval=month",
    "referrals_by_partner_and_status":
        f"referrals?from={YEAR}-01-01&to={YEAR}-12-31&by=partner,status",
    "referrals_by_site_and_nationality_group":
        f"referrals?from={YEAR}-01-01&to={YEAR}-12-31&by=site,nationality_group",
}
PRODUCERS = ("intake_outbox", "referral_outbox")


def counted_so_far(db_url: str, since: datetime) -> dict:
    """Events reporting counts staged since `since`, the facts it applied of them, and the
    first and last moments of each (one clock: the stack's processes on this machine)."""
    types = {"types": list(COUNTED_TYPES), "since": since}
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            staged = [conn.execute(text(
                f"SELECT count(*), min(created_at), max(created_at) FROM {table} "
                "WHERE created_at >= :since AND event_type = ANY(:types)"), types).one()
                for table in PRODUCERS]
            facts = conn.execute(text(
                "SELECT count(*), min(recorded_at), max(recorded_at) FROM reporting_facts "
                "WHERE recorded_at >= :since AND at >= :since"), types).one()
    finally:
        engine.dispose()
    firsts = [s[1] for s in staged if s[1]]
    lasts = [s[2] for s in staged if s[2]]
    return {"staged": sum(s[0] for s in staged), "staged_first": min(firsts, default=None),
            "staged_last": max(lasts, default=None), "facts": facts[0],
            "facts_first": facts[1], "facts_last": facts[2]}


def phase_live(stack, since: datetime, halt: Halt, timeout: float) -> dict:
    """Once the pipeline drained: wait until reporting counted every event staged since
    `since` (or `timeout`), then compare the rates."""
    print("reporting: waiting for the projection to count the surge's events", flush=True)
    deadline = time.monotonic() + timeout
    while True:
        halt.check()
        now = counted_so_far(stack.db_url, since)
        if now["facts"] >= now["staged"] or time.monotonic() >= deadline:
            break
        print(f"  reporting: {now['facts']}/{now['staged']} events counted", flush=True)
        halt.wait(2.0)
    return {"events_staged": now["staged"], "events_counted": now["facts"],
            "caught_up": now["facts"] >= now["staged"] > 0,
            "pipeline_events_per_second": _rate(now["staged"], now["staged_first"],
                                                now["staged_last"]),
            "projection_events_per_second": _rate(now["facts"], now["facts_first"],
                                                  now["facts_last"]),
            # how long after the last event was staged reporting had applied it
            "lag_seconds": (round((now["facts_last"] - now["staged_last"]).total_seconds(), 1)
                            if now["facts_last"] and now["staged_last"] else None)}


def _rate(count: int, first: datetime | None, last: datetime | None) -> float | None:
    if not count or first is None or last is None or last <= first:
        return None
    return round(count / (last - first).total_seconds(), 1)


def phase_year(stack, scale: float, calls: int, halt: Halt) -> dict:
    """The demo year into the stack's reporting database through its subscription, then the
    reports over it."""
    from services.reporting.bootstrap import bootstrap
    from services.reporting.demo_year import Year, deliver_year
    from shared.config import Settings

    print(f"reporting: the demo year {YEAR} at scale {scale:g} through the projection",
          flush=True)
    deps = bootstrap(Settings.from_env("reporting", stack.env))
    year = Year(YEAR, scale=scale)
    events = list(year.events())  # generated first: the rate is the projection's alone
    halt.check()
    started = time.perf_counter()
    done = deliver_year(events, deps.uow)
    took = time.perf_counter() - started
    deps.engine.dispose()
    halt.check()
    referrals = sum(e.type == "referral.requested" for e in events)
    base = f"http://127.0.0.1:{stack.env['LOTSE_REPORTING_PORT']}/api/v1/reports"
    headers = {"Authorization": "Bearer " + token_for(stack.intake, "management")}
    latency = {}
    for name, query in REPORTS.items():
        print(f"  reporting: {name} x {calls}", flush=True)
        timings = []
        for _ in range(calls):
            halt.check()
            started_call = time.perf_counter()
            answer = requests.get(f"{base}/{query}", headers=headers, timeout=120)
            answer.raise_for_status()
            timings.append((time.perf_counter() - started_call) * 1000)
        latency[name] = {k: v for k, v in percentiles(timings).items() if k != "p99"}
    return {"scale": scale, "consultations": done.consultations, "referrals": referrals,
            "events": done.events, "applied_seconds": round(took, 1),
            "projection_events_per_second": round(done.events / took, 1) if took else None,
            "calls_per_report": calls, "report_ms": latency}
