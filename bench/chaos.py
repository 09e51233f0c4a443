"""`make chaos`: the fault suite. Intakes flow through the distributed stack while it is
broken in every way the issue lists, then an invariant checker proves nothing was lost or
doubled.

During a run of N intakes (default 2,000) posted through the public API at a fixed rate:

* RabbitMQ is restarted twice (once gracefully, once by SIGKILL of its VM);
* PostgreSQL is restarted once (immediate mode: connections cut, WAL replayed);
* every relay and worker is killed with SIGKILL at a random moment and started again, as a
  supervisor (systemd, compose `restart: always`) would;
* one partner system is down (503) for 60 s, another answers slowly all along;
* a tap on the bus duplicates 5% of the deliveries and adds a poison message for 1% of them.

Broker and database are a private RabbitMQ node and PostgreSQL cluster (bench/servers.py), so
restarting them disturbs nothing else on the machine. The checker (bench/invariants.py) waits
until the stack has settled and every invariant holds, or a deadline passes; the run prints a
table (faults injected, flows, lost, duplicated, parked, time to recover), writes
bench/results/chaos-<time>.json, and exits non-zero unless nothing was lost or doubled.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import requests
from sqlalchemy import create_engine

from bench.invariants import Broker, check
from bench.load import drive, token_for
from bench.people import People
from bench.servers import PrivatePostgres, PrivateRabbitMQ
from bench.stack import running_stack
from bench.tap import ChaosTap
from services import registry
from services.partner_sandbox.systems import SYSTEMS

RESULTS = Path(__file__).resolve().parent / "results"
KILLED = ("relay-intake", "relay-referral", "relay-partner_adapter", "relay-ops",
          "worker-intake", "worker-referral", "worker-partner_adapter", "worker-ops")


@dataclass
class Plan:
    intakes: int = 2000
    rate: float = 20.0  # intakes offered per second
    partner_down: str = "jobcenter"
    partner_down_seconds: float = 60.0
    partner_slow: str = "welfare"
    partner_slow_seconds: float = 3.0
    duplicate: float = 0.05
    poison: float = 0.01
    settle_timeout: float = 1800.0
    workers: int = 2
    seed: int = 8

    @property
    def window(self) -> float:
        return self.intakes / self.rate


@dataclass
class FaultLog:
    started: float = field(default_factory=time.monotonic)
    entries: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, fault: str, began: float, ended: float, error: str | None = None) -> None:
        with self.lock:
            self.entries.append({"fault": fault, "at_s": round(began - self.started, 1),
                                 "lasted_s": round(ended - began, 1),
                                 **({"error": error} if error else {})})

    @property
    def last_end(self) -> float:
        return self.started + max((e["at_s"] + e["lasted_s"] for e in self.entries),
                                  default=0.0)


class Supervisor(threading.Thread):
    """Starts a stack process again a second after it died, like `restart: always`."""

    def __init__(self, stack):
        super().__init__(name="supervisor", daemon=True)
        self.stack, self.stop_event, self.restarts = stack, threading.Event(), 0

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            for name, proc in list(self.stack.procs.items()):
                if proc.poll() is not None:
                    time.sleep(1.0)
                    self.stack.launch(name)
                    self.restarts += 1


def _at(log: FaultLog, offset: float, fault: str, action) -> threading.Thread:
    def run():
        delay = log.started + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        began = time.monotonic()
        try:
            action()
            log.record(fault, began, time.monotonic())
        except Exception as exc:  # a fault that could not be injected is reported, not hidden
            log.record(fault, began, time.monotonic(), error=repr(exc)[:300])
    thread = threading.Thread(target=run, name=fault, daemon=True)
    thread.start()
    return thread


def _behaviour(stack, partner: str, mode: str, delay: float = 0.0) -> None:
    credential = stack.settings.partner_credentials[partner]  # the stand-in takes only its own
    answer = requests.put(f"{stack.settings.partner_base_url}/{partner}/behaviour",
                          json={"mode": mode, "delay_seconds": delay,
                                "auto_accept_seconds": 2},
                          headers=SYSTEMS[partner].credential_headers(credential), timeout=30)
    answer.raise_for_status()


def schedule(plan: Plan, stack, rabbit: PrivateRabbitMQ, pg: PrivatePostgres,
             log: FaultLog) -> list[threading.Thread]:
    """The faults, spread over the posting window W: broker at 0.25 W (graceful) and 0.65 W
    (SIGKILL), database at 0.45 W, the partner outage from 0.1 W, each kill at random."""
    w, rnd = plan.window, random.Random(plan.seed)

    def outage():
        _behaviour(stack, plan.partner_down, "fail")
        time.sleep(plan.partner_down_seconds)
        _behaviour(stack, plan.partner_down, "ok")

    def kill(name):
        return lambda: stack.procs[name].kill()

    threads = [
        _at(log, 0.10 * w, f"partner {plan.partner_down} down "
                           f"{plan.partner_down_seconds:g} s", outage),
        _at(log, 0.25 * w, "RabbitMQ restarted (graceful)", lambda: rabbit.restart()),
        _at(log, 0.45 * w, "PostgreSQL restarted (immediate)", lambda: pg.restart()),
        _at(log, 0.65 * w, "RabbitMQ restarted (SIGKILL)", lambda: rabbit.restart(kill=True)),
    ]
    threads += [_at(log, rnd.uniform(0.05, 0.95) * w, f"SIGKILL {name}", kill(name))
                for name in KILLED]
    return threads


def run(plan: Plan, verbose: bool = True) -> dict:
    say = print if verbose else (lambda *a, **k: None)
    workdir = Path(tempfile.mkdtemp(prefix="lotse-faults-"))
    os.chmod(workdir, 0o755)  # the private servers run as their own users
    rabbit, pg = PrivateRabbitMQ(workdir), PrivatePostgres(workdir)
    say(f"starting a private RabbitMQ (:{rabbit.port}) and PostgreSQL (:{pg.port}) ...",
        flush=True)
    rabbit.start()
    pg.start()
    try:
        with running_stack(workdir / "stack", workers=plan.workers,
                           extra_env={"LOTSE_SANDBOX_AUTO_ACCEPT": "2"},
                           broker_url=rabbit.url, pg_admin=pg.admin_url) as stack:
            return _run_on(plan, stack, rabbit, pg, say)
    finally:
        rabbit.close()
        pg.close()


def _run_on(plan: Plan, stack, rabbit, pg, say) -> dict:
    topology = registry.topology(stack.settings)
    tap = ChaosTap(rabbit.url, topology.exchange, f"{stack.settings.bus_prefix}.chaos-tap",
                   duplicate=plan.duplicate, poison=plan.poison, seed=plan.seed)
    tap.start()
    supervisor = Supervisor(stack)
    supervisor.start()
    try:
        _behaviour(stack, plan.partner_slow, "slow", plan.partner_slow_seconds)
        token = token_for(stack.intake)
        say(f"posting {plan.intakes} intakes at {plan.rate:g}/s while faults are injected ...",
            flush=True)
        log = FaultLog()
        faults = schedule(plan, stack, rabbit, pg, log)
        load = drive(f"{stack.intake}/api/v1/intakes", People(seed=plan.seed), token=token,
                     clients=16, count=plan.intakes, rate=plan.rate, keep_ids=True)
        for thread in faults:
            thread.join()
        _behaviour(stack, plan.partner_slow, "ok")
        settle_from = max(time.monotonic(), log.last_end)
        say(f"{len(load.accepted)} intakes accepted; faults over; waiting for the stack to settle",
            flush=True)
        engine = create_engine(stack.db_url, pool_pre_ping=True)
        # rabbitmqctl on the private node sees unacked messages too (no management plugin);
        # the tap's queue counts: a backlog there means duplicates and poison still to come
        broker = Broker(rabbit.url, node=rabbit.node, env=rabbit.env)
        judge = partial(check, engine, broker, topology, load.accepted, tap.counts.poison,
                        extra_queues=(tap.queue.name,))
        try:
            while True:
                findings = judge()
                waited = time.monotonic() - settle_from
                if findings.holds:
                    break
                if waited > plan.settle_timeout:  # judge what is there, settled or not
                    findings = judge(unsettled=True)
                    break
                busiest = sorted(findings.waiting.items(), key=lambda kv: -kv[1])[:3]
                say(f"  {waited:5.0f} s: in flight {sum(findings.waiting.values())} "
                    f"({', '.join(f'{k} {v}' for k, v in busiest)})", flush=True)
                time.sleep(5)
        finally:
            engine.dispose()
    finally:  # before the stack stops: the supervisor would start its processes again
        supervisor.stop_event.set()
        supervisor.join(10)
        tap.stop()
    recovered = round(time.monotonic() - settle_from, 1) if findings.holds else None
    summary = load.summary()
    report = {
        "plan": {**plan.__dict__, "window_seconds": plan.window},
        "faults": sorted(log.entries, key=lambda e: e["at_s"]),
        "process_restarts": supervisor.restarts,
        "bus": {"events_seen": tap.counts.seen, "duplicated": tap.counts.duplicated,
                "poison": len(tap.counts.poison)},
        "intakes": {"posted": summary["requests"], "accepted": len(load.accepted),
                    "refused_during_faults": summary["failed"]},
        "flows": findings.flows,
        "referrals_by_status": dict(findings.referrals),
        "settled": findings.settled, "still_in_flight": findings.waiting,
        "lost": {k: {"count": len(v), "examples": v[:5]} for k, v in findings.lost.items()},
        "duplicated": {k: {"count": len(v), "examples": v[:5]}
                       for k, v in findings.duplicated.items()},
        "parked_poison": findings.poison_parked,
        "poison_not_parked": findings.poison_missing[:20],
        "time_to_recover_seconds": recovered,
        "passed": findings.holds,
    }
    return report


def table(report: dict) -> str:
    bus = report["bus"]

    def share(n: int) -> str:
        seen = bus["events_seen"]
        return f"{100 * n / seen:.1f}% of {seen} events" if seen else ""

    rows = [(e["fault"] + (f" (FAILED: {e['error']})" if "error" in e else ""),
             f"at {e['at_s']:g} s, {e['lasted_s']:g} s") for e in report["faults"]]
    rows += [
        (f"partner {report['plan']['partner_slow']} slow "
         f"({report['plan']['partner_slow_seconds']:g} s per call)", "whole run"),
        ("duplicated deliveries", f"{bus['duplicated']} ({share(bus['duplicated'])})"),
        ("poison messages", f"{bus['poison']} ({share(bus['poison'])})"),
        ("process restarts by the supervisor", str(report["process_restarts"])),
        ("", ""),
        ("flows (intakes recorded)", str(report["flows"])),
        ("intakes refused while the database was down",
         str(report["intakes"]["refused_during_faults"])),
        ("referrals by status", ", ".join(f"{k} {v}" for k, v in
                                          sorted(report["referrals_by_status"].items()))),
        ("lost", str(sum(v["count"] for v in report["lost"].values()))),
        ("duplicated", str(sum(v["count"] for v in report["duplicated"].values()))),
        ("parked (poison, with reason)", f"{report['parked_poison']} "
                                         f"({len(report['poison_not_parked'])} missing)"),
        ("time to recover", f"{report['time_to_recover_seconds']} s after the last fault"
         if report["time_to_recover_seconds"] is not None else "did not settle"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{a:<{width}}  {b}" for a, b in rows]
    for what in ("lost", "duplicated"):
        for kind, v in report[what].items():
            lines.append(f"  {what}: {kind}: {v['count']} (e.g. {', '.join(v['examples'])})")
    if report["still_in_flight"]:
        lines.append(f"  still in flight: {report['still_in_flight']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--intakes", type=int, default=Plan.intakes)
    p.add_argument("--rate", type=float, default=Plan.rate, help="intakes offered per second")
    p.add_argument("--partner-down-seconds", type=float, default=Plan.partner_down_seconds)
    p.add_argument("--settle-timeout", type=float, default=Plan.settle_timeout)
    p.add_argument("--seed", type=int, default=Plan.seed)
    p.add_argument("--quick", action="store_true",
                   help="the smaller run of `make test`: 200 intakes at 2/s, partner down 30 s")
    args = p.parse_args(argv)
    plan = quick_plan() if args.quick else Plan(
        intakes=args.intakes, rate=args.rate, partner_down_seconds=args.partner_down_seconds,
        settle_timeout=args.settle_timeout, seed=args.seed)
    report = run(plan)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = RESULTS / f"chaos-{stamp}.json"
    out.write_text(json.dumps(report, indent=2))
    (RESULTS / "chaos-latest.json").write_text(json.dumps(report, indent=2))
    print(table(report))
    print(f"{'PASSED' if report['passed'] else 'FAILED'}: {out}")
    return 0 if report["passed"] else 1


def quick_plan() -> Plan:
    """Every fault of the full suite, on fewer intakes: the run inside `make test`."""
    return Plan(intakes=200, rate=2.0, partner_down_seconds=30.0, settle_timeout=400.0,
                workers=1)


if __name__ == "__main__":
    sys.exit(main())
