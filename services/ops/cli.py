"""`lotse ops`: dead letters and traces from the command line (same use cases as the console).

    lotse ops dlq list [--queue Q] [--service S] [--event-type T] [--cause C] [--reason TEXT]
                       [--status S]
    lotse ops dlq replay (ID... | --all | filters)   progress bar; audited as cli:<user>
    lotse ops dlq discard ID... --note WHY
    lotse ops trace ID [--json]                      an intake, referral, event or correlation id
"""
from __future__ import annotations

import getpass
import json
import sys

from shared.bus.causes import ParkCause
from shared.config import Settings

FILTERS = ("queue", "service", "event_type", "cause", "reason")


def add_parser(sub) -> None:
    ops = sub.add_parser("ops", help="operator tools: dead letters and traces")
    areas = ops.add_subparsers(dest="area", required=True)
    dlq = areas.add_parser("dlq", help="parked messages (dead letters)")
    actions = dlq.add_subparsers(dest="action", required=True)
    for name, text in (("list", "show parked messages"),
                       ("replay", "put parked messages back into their queues"),
                       ("discard", "give up on parked messages, with a note")):
        p = actions.add_parser(name, help=text)
        if name != "list":
            p.add_argument("ids", nargs="*", type=int, help="dead letter numbers")
        for f in FILTERS:
            p.add_argument(f"--{f.replace('_', '-')}", dest=f,
                           choices=[c.value for c in ParkCause] if f == "cause" else None)
        if name == "list":
            p.add_argument("--status", default="parked",
                           choices=("parked", "replayed", "discarded"))
            p.add_argument("--limit", type=int, default=200)
        if name == "replay":
            p.add_argument("--all", action="store_true", help="every parked message")
        if name == "discard":
            p.add_argument("--note", required=True, help="why they are discarded")
        p.set_defaults(func=run_dlq)
    trace = areas.add_parser("trace", help="every event of a flow, in causal order")
    trace.add_argument("id", help="intake, referral, event or correlation id")
    trace.add_argument("--json", action="store_true", help="print the trace as JSON")
    trace.set_defaults(func=run_trace)


def _console():
    from services.ops.app import console_runtime
    from services.ops.bootstrap import bootstrap

    settings = Settings.from_env("ops")
    return settings, bootstrap(settings), console_runtime(settings)


def run_dlq(args) -> None:
    from tqdm import tqdm

    from services.ops import dead_letters

    settings, deps, runtime = _console()
    actor = f"cli:{getpass.getuser()}"
    # what is still in the parking queues first, so the list is complete
    dead_letters.collect(deps.engine, runtime.lot)
    selection = {f: getattr(args, f) for f in FILTERS if getattr(args, f, None)}
    if args.action == "list":
        with deps.engine.connect() as conn:
            rows = dead_letters.listing(conn, selection, args.limit, args.status)
        for r in rows:
            print(f"{r.id:>6}  {r.status:<9} {r.queue:<45} {r.event_type:<28} "
                  f"attempts={r.attempts}  {r.reason[:80]}")
        print(f"{len(rows)} {args.status}", file=sys.stderr)
        return
    if args.ids:
        selection["ids"] = args.ids
    if args.action == "replay":
        if not selection and not args.all:
            sys.exit("name dead letter numbers, a filter, or --all")
        with deps.engine.connect() as conn:
            total = len(dead_letters.listing(conn, selection, 1_000_000))
        with tqdm(total=total, unit="msg", desc="replaying") as bar:
            batch = dead_letters.replay_all(deps.engine, runtime.lot, selection, actor,
                                            progress=bar.update)
        print(f"replayed {batch['done']}, failed {batch['failed']} (batch {batch['id']})")
        sys.exit(1 if batch["failed"] else 0)
    if not args.ids:
        sys.exit("discard needs the dead letter numbers")
    failed = 0
    for dead_letter_id in tqdm(args.ids, unit="msg", desc="discarding"):
        try:
            dead_letters.discard(deps.engine, dead_letter_id, actor, args.note)
        except (LookupError, ValueError) as exc:
            failed += 1
            print(f"{dead_letter_id}: {exc}", file=sys.stderr)
    sys.exit(1 if failed else 0)


def run_trace(args) -> None:
    from services.ops import console

    settings, deps, runtime = _console()
    try:
        trace = console.trace(deps.engine, runtime.topology, args.id)
    except console.NothingToTrace as exc:
        sys.exit(str(exc))
    if args.json:
        print(json.dumps(trace, indent=2))
        return
    print(f"{len(trace['events'])} events in {trace['duration_ms']} ms")
    for e in trace["events"]:
        after = "" if e["after_cause_ms"] is None else f"+{e['after_cause_ms']} after cause"
        handled = ", ".join(f"{h['subscriber']} {h['ms']} ms" for h in e["handled_by"])
        print(f"{e['at_ms']:>9} ms  {'  ' * e['depth']}{e['type']:<30} {e['service']:<16} "
              f"{after:<22} {handled}")
    for rid, r in trace["referrals"].items():
        print(f"referral {rid}  {r['partner'] or '-':<16} {r['status']}")

