"""The `lotse` command: run the embedded network, or each distributed process on its own."""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from services import processes
from shared.auth import ROLES
from shared.config import (COMPOSE_SECRETS, DEFAULT_PORTS, SERVICES, SecretMissing,
                           Settings, generated_secrets, port_of, secret_value)
from shared.logging import configure_logging
from shared.private_files import PRIVATE_UMASK, private_dir

log = logging.getLogger("lotse")
BUS_SERVICES = processes.BUS_SERVICES
METRICS_BASE_PORT = 9101  # `lotse stack`: relays' and workers' /metrics on 9101, 9102, ...


def migrate_all(settings: Settings) -> None:
    from shared.db import migrate

    for service in SERVICES:
        migrate(service, settings.for_service(service).database_url)


def seed_demo(settings: Settings) -> None:
    from services.intake.accounts import DEMO_PASSWORD, seed_demo_accounts
    from services.intake import inbound_store
    from services.intake.bootstrap import bootstrap

    deps = bootstrap(settings.for_service("intake"))
    with deps.session_factory() as session:
        accounts = seed_demo_accounts(session)
        session.commit()
    seed_demo_courses(settings)
    # partners' referrals to the centre, so their pages are not empty
    inbound_store.seed_demo(deps.uow, deps.session_factory, deps.clock)
    print("\nDemo accounts (password for all: %r):" % DEMO_PASSWORD, flush=True)
    for username, role, partner in accounts:
        print(f"  {username:<13} {role}{' (' + partner + ')' if partner else ''}", flush=True)


def seed_demo_courses(settings: Settings) -> None:
    """A handful of language courses for the course finder (none if it has courses)."""
    from services.referral import courses_store
    from services.referral.bootstrap import bootstrap

    deps = bootstrap(settings.for_service("referral"))
    try:
        courses_store.seed_demo(deps.uow(), deps.clock().date())
    finally:
        deps.engine.dispose()


def cmd_run(args) -> None:
    """Embedded mode: migrate, seed, serve the whole network on one port."""
    from waitress import create_server

    from services.embedded import build_network
    from shared.runtime import Loops

    settings = Settings.from_env("intake")
    migrate_all(settings)
    if args.demo:
        seed_demo(settings)
    network = build_network(settings)
    loops = Loops()
    network.start_loops(loops)
    port = int(os.environ.get("PORT", DEFAULT_PORTS["gateway"]))
    server = create_server(network.wsgi, host=args.host, port=port, threads=16,
                           ident="lotse")
    print(f"\nLotse is running at http://{args.host}:{port}  (Ctrl-C stops it)\n", flush=True)

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)  # also when started in the background
    try:
        server.run()  # returns on Ctrl-C / SIGTERM (waitress handles the interrupt)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…", flush=True)
        # a request thread still running would os.write() to the closed trigger pipe's raw
        # descriptor number, which a file opened meanwhile may have taken (tests/e2e/conftest.py)
        server.trigger._physical_pull = lambda: None
        server.close()
        loops.shutdown()
        print("stopped", flush=True)


def _factory(service: str):
    if service == "gateway":
        from services.gateway import create_app
    elif service == "partner_sandbox":
        from services.partner_sandbox.app import create_app
    else:
        module = __import__(f"services.{service}.app", fromlist=["create_app"])
        create_app = module.create_app
    return create_app


def cmd_serve(args) -> None:
    """One service's HTTP API and UI under gunicorn (app built in each worker, after fork)."""
    from gunicorn.app.base import BaseApplication

    _multiprocess_metrics()  # before anything imports prometheus_client
    factory = _factory(args.service)
    port = args.port or port_of(args.service)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", 8)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("preload_app", False)  # no DB or broker connection in the master
            self.cfg.set("accesslog", None)
            self.cfg.set("graceful_timeout", 10)
            # several gunicorns on one machine would share (and unlink) one control socket
            self.cfg.set("control_socket_disable", True)
            from shared.metrics import worker_exited

            self.cfg.set("child_exit", worker_exited)

        def load(self):
            configure_logging(args.service, Settings.from_env(args.service).log_json)
            return factory()

    Server().run()


def _multiprocess_metrics() -> None:
    """gunicorn's workers add up their metrics in one directory (prometheus_client's
    multiprocess mode): a fresh one for this server unless PROMETHEUS_MULTIPROC_DIR names one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="lotse-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    master = os.getpid()  # forked workers inherit atexit handlers: only the master cleans up
    atexit.register(lambda: os.getpid() == master and shutil.rmtree(path, ignore_errors=True))


def _serve_metrics(args, probes=None) -> None:
    """Relays and workers have no HTTP app: /metrics, /healthz and /readyz on a port of their
    own (0 = none; shared/probes.py)."""
    if not args.metrics_port:
        return
    from shared.probes import ProcessProbes, start_probe_server

    try:
        start_probe_server(args.metrics_port, args.metrics_host, probes or ProcessProbes())
    except OSError as exc:  # no metrics is no reason to stop relaying or consuming
        log.error("metrics port unavailable", extra={"port": args.metrics_port,
                                                      "reason": str(exc)})
        return
    log.info("metrics served", extra={"port": args.metrics_port,
                                      "paths": "/metrics /healthz /readyz"})


def cmd_relay(args) -> None:
    """Publish one service's outbox to RabbitMQ (several relays may run at once)."""
    _run_process(processes.RELAY, args)


def cmd_worker(args) -> None:
    """Consume one service's subscriptions (and run its background loops; with
    --skip-once-loops not those that run once per deployment)."""
    _run_process(processes.WORKER, args)


def _run_process(kind: str, args) -> None:
    """One service's loops of one kind (services/processes.py) in this process, until a
    signal stops them; /metrics, /healthz and /readyz on the metrics port meanwhile."""
    from shared.probes import ProcessProbes
    from shared.runtime import stop_on_signals

    settings = Settings.from_env(args.service)
    wiring, checks = _distributed_wiring(settings)
    loops = _loops()
    stop_on_signals(loops.stop)
    _serve_metrics(args, ProcessProbes(loops, checks))  # its first answer names the checks
    skip_once = getattr(args, "skip_once_loops", False)
    processes.start(loops, wiring, kind, skip_once=skip_once)
    log.info(f"{kind} started", extra={"service": args.service,
                                       "once_loops": "skipped" if skip_once else "run"})
    _wait_for_stop(loops)


def _distributed_wiring(settings: Settings):
    """A service's wiring on RabbitMQ, and the readiness checks of a process running it."""
    transport = processes.Amqp(settings)
    if not processes.RUNTIMES[settings.service].bus:  # the stand-in partners: no broker
        from shared.db import make_engine, ping

        engine = make_engine(settings.database_url)
        return (processes.Wiring(settings.service, settings, transport, engine),
                [("database", lambda: ping(engine))])
    from shared.service import broker_check

    _require_broker(settings)
    deps = _bootstrap(settings.service, settings)
    return (processes.Wiring.of(deps, transport),
            [("database", deps.ping_database), ("bus", broker_check(settings))])


def _wait_for_stop(loops) -> None:
    while not loops.stop.wait(1.0):
        pass
    loops.shutdown()


def _loops():
    from shared.runtime import Loops

    return Loops()


def _bootstrap(service: str, settings: Settings):
    module = __import__(f"services.{service}.bootstrap", fromlist=["bootstrap"])
    return module.bootstrap(settings)


def _require_broker(settings: Settings) -> None:
    if settings.embedded:
        sys.exit("LOTSE_BROKER_URL is not set: relays and workers are for the distributed "
                 "mode (embedded mode runs them inside `lotse run`).")


def cmd_migrate(args) -> None:
    settings = Settings.from_env("intake")
    if args.service == "all":
        migrate_all(settings)
    else:
        from shared.db import migrate

        migrate(args.service, settings.for_service(args.service).database_url)


def cmd_seed_demo(args) -> None:
    if args.year is None:
        seed_demo(Settings.from_env("intake"))
        return
    from services.reporting.bootstrap import bootstrap
    from services.reporting.demo_year import Year, deliver_year
    from shared.db import migrate

    if not 0 < args.scale <= 1:
        sys.exit("lotse seed-demo: --scale must be above 0 and at most 1")
    settings = Settings.from_env("reporting")
    migrate("reporting", settings.database_url)
    done = deliver_year(Year(args.year, seed=args.seed, scale=args.scale).events(),
                        bootstrap(settings).uow)
    print(f"demo year {args.year}: {done.consultations} consultations, {done.events} events, "
          f"{done.new} of them new to the reporting service", flush=True)


def cmd_user(args) -> None:
    from services.intake.accounts import AccountError, save_checked_account
    from services.intake.bootstrap import bootstrap

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else \
        getpass.getpass(f"Password for {args.username}: ")
    deps = bootstrap(Settings.from_env("intake"))
    with deps.session_factory() as session:
        try:
            save_checked_account(session, args.username, password, args.role, args.partner,
                                 args.languages.split(",") if args.languages is not None
                                 else None)
        except AccountError as exc:  # a refused input: say which, no traceback
            raise SystemExit(f"lotse user: {exc}") from None
        session.commit()
    print(f"saved {args.username} ({args.role})")


def cmd_topology(args) -> None:
    from services import registry

    settings = Settings.from_env("intake")
    topology = registry.topology(settings)
    if args.action == "definitions":
        password = secret_value(os.environ, "LOTSE_BROKER_PASSWORD")
        text = json.dumps(topology.definitions(
            os.environ.get("LOTSE_BROKER_USER", "lotse"), password), indent=2)
        if args.out:
            _write_definitions(Path(args.out), text)
        else:
            print(text)
    else:
        from shared.bus.amqp import declare_topology

        _require_broker(settings)
        declare_topology(settings, topology)
        print(f"declared {len(topology.queue_specs())} queues on {settings.bus_prefix}.events")


def _write_definitions(path: Path, text: str) -> None:
    """For the broker's boot import (compose): written whole, readable by the broker's own
    user in its container (it holds only a salted hash of the password)."""
    partial = path.with_suffix(".partial")
    partial.write_text(text + "\n")
    partial.chmod(0o644)
    partial.replace(path)


def cmd_catalogue(_args) -> None:
    from services import registry
    from shared.events.catalogue import render

    print(render(registry.topology(Settings.from_env("intake"))))


def cmd_secrets(_args) -> None:
    """A fresh random value for every secret, as NAME=value lines (an .env file)."""
    for name, value in generated_secrets().items():
        print(f"{name}={value}")
    for name in COMPOSE_SECRETS:  # docker compose's own: the database's and broker's users
        print(f"{name}={secrets.token_urlsafe(32)}")


def cmd_record_of_processing(args) -> None:
    """The Art. 30 record from shared/defaults/processing.json, partners.json, retention.json."""
    from shared.processing_record import build_record, render_json, render_markdown

    settings = Settings.from_env("intake")
    record = build_record(retention_path=settings.retention_file,
                          dpo_contact=settings.dpo_contact, language=args.language)
    print(render_json(record) if args.format == "json" else render_markdown(record))


def stack_commands(python: str = sys.executable, replicas: dict[str, int] | None = None,
                   metrics_base: int = METRICS_BASE_PORT) -> list[tuple[str, list[str]]]:
    """Every process of the distributed stack, as (name, argv). Relays and workers run
    `replicas` times each (services/supervisor.py's parse_replicas; once by default): the
    first is named e.g. "worker-referral", the others "worker-referral-2", ...; each gets
    its own metrics port, counting up from `metrics_base`. Replicas 2..N leave out the loops
    that run once per deployment (`--skip-once-loops`: the ops worker's console)."""
    from services.supervisor import replicas_of

    lotse = [python, "-m", "services.cli"]
    procs = [(f"serve-{s}", lotse + ["serve", s]) for s in (*SERVICES, "gateway")]
    bus = [(kind, s) for kind in (processes.RELAY, processes.WORKER)
           for s in processes.services_with(kind)]
    port = metrics_base
    for kind, service in bus:
        for replica in range(1, replicas_of(replicas or {}, kind, service) + 1):
            name = f"{kind}-{service}" + (f"-{replica}" if replica > 1 else "")
            argv = lotse + [kind, service, "--metrics-port", str(port)]
            if replica > 1 and processes.has_once_loops(kind, service):
                argv.append("--skip-once-loops")
            procs.append((name, argv))
            port += 1
    return procs


def stack_environment(commands: list[tuple[str, list[str]]]) -> dict[str, dict[str, str]]:
    """What `lotse stack` adds to its processes' environment, by name: the ops server's and
    ops workers' LOTSE_OPS_METRICS_URLS, the /metrics of every process of `commands` whose
    figures the console shows (processes.console_sources: the relays' outbox backlogs, the
    partner adapter worker's circuits), replicas included."""
    from services.ops.readings import METRICS_URLS

    def process(argv: list[str]) -> tuple[str, str]:
        return argv[3], argv[4]  # after "python -m services.cli"

    sources = set(processes.console_sources())
    urls = [f"http://127.0.0.1:{metrics_port(argv)}/metrics" for _, argv in commands
            if process(argv) in sources and metrics_port(argv)]
    return {name: {METRICS_URLS: ",".join(urls)} for name, argv in commands
            if process(argv) in (("serve", "ops"), (processes.WORKER, "ops"))}


def metrics_port(argv: list[str]) -> int | None:
    """The --metrics-port of a relay's or worker's command line, if any."""
    return int(argv[argv.index("--metrics-port") + 1]) if "--metrics-port" in argv else None


def cmd_stack(args) -> None:
    """The distributed stack as local processes (RabbitMQ + PostgreSQL of this machine), kept
    running by a supervisor (services/supervisor.py)."""
    import threading

    from services import supervisor
    from shared.metrics import start_metrics_server

    try:
        replicas = supervisor.parse_replicas(",".join(
            [os.environ.get("LOTSE_STACK_REPLICAS", ""), *args.replicas]))
        delays = [float(d) for d in os.environ.get("LOTSE_STACK_RESTART_DELAYS", "").split(",")
                  if d.strip()] or supervisor.DEFAULT_DELAYS
        max_restarts = int(os.environ.get("LOTSE_STACK_MAX_RESTARTS")
                           or supervisor.DEFAULT_MAX_RESTARTS)
    except ValueError as exc:
        sys.exit(f"lotse stack: {exc}")
    settings = Settings.from_env("intake")
    _require_broker(settings)
    if settings.database_url.startswith("sqlite"):
        sys.exit("LOTSE_DATABASE_URL is not set: the distributed stack needs PostgreSQL.")
    migrate_all(settings)
    cmd_topology(argparse.Namespace(action="declare"))
    if args.demo:
        seed_demo(settings)
    commands = stack_commands(replicas=replicas, metrics_base=args.metrics_base_port)
    keeper = supervisor.Supervisor(commands, env=stack_environment(commands), delays=delays,
                                   max_restarts=max_restarts)
    if args.metrics_port:
        try:
            start_metrics_server(args.metrics_port)
        except OSError as exc:
            log.error("supervisor metrics port unavailable",
                      extra={"port": args.metrics_port, "reason": str(exc)})
    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    # handlers first: a signal during the start still stops every child already started
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        keeper.start()
        _announce(commands, args)
        keeper.run(stopping)
    finally:
        keeper.shutdown()


def _announce(commands, args) -> None:
    print(f"\nLotse (distributed) is running at http://127.0.0.1:{port_of('gateway')}"
          f"  ({len(commands)} processes, restarted when they exit; Ctrl-C stops them)",
          flush=True)
    print("Metrics: /metrics of every service, /gateway/metrics, "
          f"the supervisor :{args.metrics_port}, and "
          + ", ".join(f"{name} :{metrics_port(argv)}" for name, argv in commands
                      if metrics_port(argv)) + " (also /healthz, /readyz)\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    os.umask(PRIVATE_UMASK)  # every file a Lotse process creates is its user's only
    parser = argparse.ArgumentParser(prog="lotse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="the whole network in one process (embedded default)")
    p.add_argument("--demo", action="store_true", help="seed the demo accounts")
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("serve", help="one service's HTTP server (gunicorn)")
    p.add_argument("service", choices=(*SERVICES, "gateway"))
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("relay", help="publish a service's outbox to RabbitMQ")
    p.add_argument("service", choices=processes.services_with(processes.RELAY))
    _metrics_options(p)
    p.set_defaults(func=cmd_relay)
    p = sub.add_parser("worker", help="consume a service's events and run its loops")
    p.add_argument("service", choices=processes.services_with(processes.WORKER))
    _metrics_options(p)
    p.add_argument("--skip-once-loops", action="store_true",
                   help="leave out the loops that run once per deployment (the ops "
                        "console's, the sandbox's notifier): for a replica other than the "
                        "first (`lotse stack` adds it)")
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("stack", help="the distributed stack as local processes")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--replicas", action="append", default=[], metavar="KIND[:SERVICE]=N",
                   help="run relays or workers N times, e.g. worker:referral=2 or relay=2 "
                        "(repeatable; added to $LOTSE_STACK_REPLICAS, later wins)")
    p.add_argument("--metrics-port", type=int,
                   default=int(os.environ.get("LOTSE_STACK_METRICS_PORT") or 9100),
                   help="the supervisor's /metrics (restarts; default "
                        "$LOTSE_STACK_METRICS_PORT or 9100; 0 = off)")
    p.add_argument("--metrics-base-port", type=int,
                   default=int(os.environ.get("LOTSE_STACK_METRICS_BASE_PORT")
                               or METRICS_BASE_PORT),
                   help="first metrics port of the relays and workers (default "
                        "$LOTSE_STACK_METRICS_BASE_PORT or 9101), one each")
    p.set_defaults(func=cmd_stack)
    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("service", nargs="?", default="all", choices=(*SERVICES, "all"))
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed-demo", help="create the demo accounts (password 'demo'); with "
                       "--year, a synthetic year of the centre's figures instead")
    p.add_argument("--year", type=int, help="give the reporting service the events of a "
                   "synthetic year like the first-year review's (e.g. 2022)")
    p.add_argument("--seed", type=int, default=2022, help="the year's random seed")
    p.add_argument("--scale", type=float, default=1.0,
                   help="share of the review's volumes (e.g. 0.05)")
    p.set_defaults(func=cmd_seed_demo)
    p = sub.add_parser("user", help="create or reset an account (password: at least 12 "
                                    "characters, not a common or breached one)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--partner")
    p.add_argument("--languages", help="languages the person consults in besides German, "
                                       "ISO codes separated by commas (e.g. en,uk,ru): the "
                                       "walk-in queue calls them tickets in these")
    p.add_argument("--password-stdin", action="store_true")
    p.set_defaults(func=cmd_user)
    p = sub.add_parser("topology", help="declare the RabbitMQ topology or print definitions")
    p.add_argument("action", choices=("declare", "definitions"))
    p.add_argument("--out", help="definitions: write them to this file (the broker's boot "
                                 "import) instead of printing them")
    p.set_defaults(func=cmd_topology)
    p = sub.add_parser("catalogue", help="print the event catalogue (docs/events.md)")
    p.set_defaults(func=cmd_catalogue)
    p = sub.add_parser("secrets", help="print new random secrets as an .env file "
                                       "(docker compose, a distributed deployment)")
    p.set_defaults(func=cmd_secrets)
    p = sub.add_parser("record-of-processing",
                       help="print the Art. 30 record (docs/record-of-processing.md)")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    p.add_argument("--language", choices=("en", "de"), default="en",
                   help="the record's language (de: docs/record-of-processing.de.md)")
    p.set_defaults(func=cmd_record_of_processing)
    from services.ops.cli import add_parser as add_ops_parser
    from services.referral.courses_cli import add_parser as add_courses_parser
    from services.reporting.cli import add_parser as add_reporting_parser
    from services.retention import add_parser as add_retention_parser

    add_ops_parser(sub)
    add_reporting_parser(sub)
    add_courses_parser(sub)
    add_retention_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "stack" and args.demo:  # its processes share secrets generated in var/
        os.environ["LOTSE_DEMO"] = "1"
    try:
        settings = Settings.from_env(getattr(args, "service", None) or "lotse")
    except SecretMissing as exc:  # before any process of the stack starts
        sys.exit(f"lotse: {exc}")
    configure_logging(getattr(args, "service", None) or "lotse", settings.log_json,
                      os.environ.get("LOTSE_LOG_LEVEL", "INFO"))
    private_dir(Path(settings.data_dir))
    args.func(args)


def _metrics_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metrics-port", type=int,
                   default=int(os.environ.get("LOTSE_METRICS_PORT") or 0),
                   help="serve Prometheus /metrics on this port (default $LOTSE_METRICS_PORT; "
                        "0 = off)")
    p.add_argument("--metrics-host", default=os.environ.get("LOTSE_METRICS_HOST", "127.0.0.1"),
                   help="address of the metrics port (default $LOTSE_METRICS_HOST or 127.0.0.1)")


if __name__ == "__main__":
    main()
