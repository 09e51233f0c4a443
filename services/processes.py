"""Which loops each service runs, declared once (RUNTIMES below).

Three commands start them: `lotse run` starts every service's loops as threads of one process
(services/embedded.py), `lotse relay S` and `lotse worker S` start one service's relay or
worker loops in a process of their own, and `lotse stack` starts one such process per service
and kind (services/cli.py). Adding a loop to a service is one line in RUNTIMES.

A loop is declared with the name probes, logs and metrics know it by, the process that runs it
when distributed (RELAY: the outbox relay; WORKER: the consumer and the background loops), and
how it is built from a `Wiring`: the service's deps and settings, and the transport. The
transport is the one difference between the modes: `Amqp` (AmqpPublisher and AmqpConsumer on
RabbitMQ; several processes may run the same loop at once) or `Embedded` (the EmbeddedBroker
and EmbeddedConsumer; every loop of the network in this one process, so leases left by a
killed predecessor can be released at start).
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Protocol

from shared.config import Settings
from shared.runtime import Loop as Target  # what a `Loops` thread runs
from shared.runtime import Loops

if TYPE_CHECKING:  # not at import: `lotse serve` must set up multiprocess metrics first
    from sqlalchemy.engine import Engine

    from services.ops.app import ConsoleRuntime
    from shared.bus.embedded import EmbeddedBroker
    from shared.outbox import Publisher
    from shared.service import ServiceDeps

RELAY, WORKER = "relay", "worker"  # the `lotse` commands that run a service's loops


class Transport(Protocol):
    """How relays publish and consumers receive: what the two modes' loops differ in."""
    one_process: ClassVar[bool]  # every loop of the network runs in this process
    threads: int | None  # threads of a loop's pool (consumer, case opener); None: the settings'

    def publisher(self) -> Publisher: ...

    def consumer(self, service: str, deps: ServiceDeps) -> Target: ...


@dataclass
class Amqp:
    """RabbitMQ: a relay or worker process of its own, perhaps one of several replicas."""
    settings: Settings
    one_process: ClassVar[bool] = False
    threads: int | None = None

    def publisher(self) -> Publisher:
        from services import registry
        from shared.bus.amqp import AmqpPublisher

        return AmqpPublisher(self.settings, registry.topology(self.settings))

    def consumer(self, service: str, deps: ServiceDeps) -> Target:
        from services import registry
        from shared.bus.amqp import AmqpConsumer

        topology = registry.topology(self.settings)
        return AmqpConsumer(self.settings, topology, topology.for_service(service),
                            deps.uow).run_until


@dataclass
class Embedded:
    """The embedded bus: the whole network in this process (`lotse run`)."""
    broker: EmbeddedBroker
    threads: int = 4
    max_attempts: int = 6
    one_process: ClassVar[bool] = True

    def publisher(self) -> Publisher:
        return self.broker

    def consumer(self, service: str, deps: ServiceDeps) -> Target:
        from shared.bus.embedded import EmbeddedConsumer

        return EmbeddedConsumer(self.broker, self.broker.topology.for_service(service),
                                deps.uow, threads=self.threads,
                                max_attempts=self.max_attempts,
                                batch=deps.settings.worker_batch).run


@dataclass
class Wiring:
    """What one service's loops are built from, in the process that runs them."""
    service: str
    settings: Settings  # the service's own
    transport: Transport
    engine: Engine  # the service's database
    deps: ServiceDeps | None = None  # None for the sandbox: it has its engine only
    console: ConsoleRuntime | None = None  # the ops app's (embedded); None: a new one

    @classmethod
    def of(cls, deps: ServiceDeps, transport: Transport,
           console: ConsoleRuntime | None = None) -> Wiring:
        return cls(deps.settings.service, deps.settings, transport, deps.engine, deps, console)

    @property
    def service_deps(self) -> ServiceDeps:
        if self.deps is None:
            raise ValueError(f"{self.service}: a bus loop needs the service's deps")
        return self.deps


@dataclass(frozen=True)
class Loop:
    """One loop of a service, and how to build it for a process."""
    name: str  # as probes, logs and metrics name it in a process of its own
    process: str  # RELAY or WORKER
    build: Callable[[Wiring], Target]
    # runs once per deployment: of a process's replicas only the first runs it (`lotse
    # stack` starts the others with `--skip-once-loops`), and a process that runs nothing
    # else has no replicas (`replicable`)
    once: bool = False
    # the metrics of this loop the operator console shows (services/ops/readings.py parses
    # them): distributed, read from the /metrics of the processes running it
    # (LOTSE_OPS_METRICS_URLS, `console_sources`)
    console_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceRuntime:
    """Every loop a service runs, relays and workers alike."""
    service: str
    loops: tuple[Loop, ...]
    bus: bool = True  # bootstrapped deps, an outbox and subscriptions (the sandbox: none)

    def loops_of(self, process: str) -> tuple[Loop, ...]:
        return tuple(loop for loop in self.loops if loop.process == process)


def _relay(w: Wiring) -> Target:
    from shared.outbox import OutboxRelay

    deps = w.service_deps
    relay = OutboxRelay(deps.engine, deps.outbox, w.transport.publisher())
    relay.wake = deps.relay_wake  # a commit in this process (embedded: the API's) wakes it
    if w.transport.one_process:  # no other relay can hold a lease: a dead predecessor's
        relay.release_leases()
    return relay.run


def _consumer(w: Wiring) -> Target:
    return w.transport.consumer(w.service, w.service_deps)


def _retention(w: Wiring) -> Target:
    from services import retention

    return retention.scheduler(w.service, w.service_deps, w.settings).run


def _deadline_scheduler(w: Wiring) -> Target:
    from services.referral.scheduler import DeadlineScheduler

    return DeadlineScheduler(w.service_deps, w.settings.deadline_sweep_seconds).run


def _case_opener(w: Wiring) -> Target:
    from services.partner_adapter import repository
    from services.partner_adapter.case_opener import CaseOpener
    from services.partner_adapter.partners import gateways

    if w.transport.one_process:  # no other opener can hold a lease: a dead predecessor's
        repository.release_leases(w.engine)
    return CaseOpener(w.service_deps,
                      gateways(w.settings.partner_base_url, w.settings.partner_credentials),
                      threads=w.transport.threads).run


def _ops_console(w: Wiring) -> Target:
    from services.ops.app import console_runtime

    console = w.console or console_runtime(w.settings)
    return console.loop(w.engine, w.settings, os.environ).run


def _sandbox_notifier(w: Wiring) -> Target:
    from services.partner_sandbox.notifier import PartnerNotifier

    return PartnerNotifier(w.engine, w.settings).run


OUTBOX_METRICS = ("lotse_outbox_pending", "lotse_outbox_oldest_pending_seconds")
CIRCUIT_METRICS = ("lotse_partner_circuit_open",)


def _bus_loops(service: str) -> tuple[Loop, ...]:
    """Every bus service's: its relay, its consumer, and its retention schedule (daily, and
    once at start)."""
    return (Loop(f"relay-{service}", RELAY, _relay, console_metrics=OUTBOX_METRICS),
            Loop(f"consumer-{service}", WORKER, _consumer),
            Loop("retention", WORKER, _retention))


RUNTIMES: dict[str, ServiceRuntime] = {r.service: r for r in (
    ServiceRuntime("intake", _bus_loops("intake")),
    ServiceRuntime("referral", (*_bus_loops("referral"),
                                Loop("deadline-scheduler", WORKER, _deadline_scheduler))),
    ServiceRuntime("partner_adapter", (*_bus_loops("partner_adapter"),
                                       Loop("case-opener", WORKER, _case_opener,
                                            console_metrics=CIRCUIT_METRICS))),
    ServiceRuntime("ops", (*_bus_loops("ops"),
                           Loop("ops-console", WORKER, _ops_console, once=True))),
    ServiceRuntime("reporting", _bus_loops("reporting")),
    ServiceRuntime("partner_sandbox", (Loop("sandbox-notifier", WORKER, _sandbox_notifier,
                                            once=True),), bus=False),
)}
BUS_SERVICES = tuple(s for s, runtime in RUNTIMES.items() if runtime.bus)


def services_with(process: str) -> tuple[str, ...]:
    """The services that have a process of this kind (`lotse relay`, `lotse worker`)."""
    return tuple(s for s, runtime in RUNTIMES.items() if runtime.loops_of(process))


def replicable(process: str, service: str) -> bool:
    """Whether a service's relay or worker may run as several processes: not when every
    loop it runs is a once-loop (its replicas 2..N would run nothing)."""
    return any(not loop.once for loop in RUNTIMES[service].loops_of(process))


def has_once_loops(process: str, service: str) -> bool:
    """Whether a replica other than the first must be told to leave loops out."""
    return any(loop.once for loop in RUNTIMES[service].loops_of(process))


def console_sources() -> tuple[tuple[str, str], ...]:
    """(process kind, service) of the processes whose /metrics the operator console reads
    when distributed: every relay (outbox backlogs) and the partner adapter's worker (its
    case opener's circuits)."""
    return tuple((kind, s) for kind in (RELAY, WORKER) for s in services_with(kind)
                 if any(loop.console_metrics for loop in RUNTIMES[s].loops_of(kind)))


def console_metrics() -> tuple[str, ...]:
    """Every metric the console reads from those processes (a Prometheus /federate's
    `match[]`)."""
    return tuple(dict.fromkeys(name for runtime in RUNTIMES.values()
                               for loop in runtime.loops for name in loop.console_metrics))


def one_process_names(services: list[str] | tuple[str, ...]) -> dict[tuple[str, str], str]:
    """(service, declared name) -> the loop's name in one process running all these services:
    a name several of them declare (each bus service has its "retention") gets the service
    appended ("retention-referral"), as names are unique in a process."""
    declared = Counter(loop.name for s in services for loop in RUNTIMES[s].loops)
    return {(s, loop.name): loop.name if declared[loop.name] == 1 else f"{loop.name}-{s}"
            for s in services for loop in RUNTIMES[s].loops}


def start(loops: Loops, wiring: Wiring, process: str, skip_once: bool = False) -> None:
    """One service's loops of one process kind, each built and started in turn; with
    `skip_once`, not those that run once per deployment (a replica other than the first)."""
    for loop in RUNTIMES[wiring.service].loops_of(process):
        if not (skip_once and loop.once):
            loops.start(loop.name, loop.build(wiring))


def start_network(loops: Loops, wirings: dict[str, Wiring]) -> None:
    """Every loop of these services in this one process (relays and workers alike)."""
    names = one_process_names(tuple(wirings))
    for service, wiring in wirings.items():
        for loop in RUNTIMES[service].loops:
            loops.start(names[service, loop.name], loop.build(wiring))
