"""The whole network in one process: six apps behind one address, bus loops as threads.

This is the no-server default (`make run`): every service keeps its own SQLite database,
events travel through the embedded (database-backed) bus, and the same relays, consumers
and background loops as in the distributed mode (services/processes.py) run as threads.
Because this process is the only one using these files, leases left by a killed predecessor
are released at start, so redelivery is immediate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from services import processes, registry
from services.intake.app import create_app as intake_app
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.token_revocations import direct_feed
from services.ops.app import console_runtime
from services.ops.app import create_app as ops_app
from services.ops.bootstrap import bootstrap as ops_bootstrap
from services.partner_adapter.app import create_app as partner_adapter_app
from services.partner_adapter.bootstrap import bootstrap as partner_adapter_bootstrap
from services.partner_sandbox.app import create_app as sandbox_app
from services.referral.app import create_app as referral_app
from services.referral.bootstrap import bootstrap as referral_bootstrap
from services.reporting.app import create_app as reporting_app
from services.reporting.bootstrap import bootstrap as reporting_bootstrap
from shared.bus.embedded import EmbeddedBroker
from shared.config import Settings
from shared.revocations import RevocationList
from shared.runtime import Loops
from shared.service import ServiceDeps

BOOTSTRAPS = {"intake": intake_bootstrap, "referral": referral_bootstrap,
              "partner_adapter": partner_adapter_bootstrap, "ops": ops_bootstrap,
              "reporting": reporting_bootstrap}
APP_FACTORIES = {"intake": intake_app, "referral": referral_app,
                 "partner_adapter": partner_adapter_app, "reporting": reporting_app}


class PathDispatcher:
    """WSGI: hand each request to the app that owns its path (see registry.ROUTES)."""

    def __init__(self, apps: dict[str, Callable]):
        self.apps = apps

    def __call__(self, environ, start_response):
        return self.apps[registry.route_for(environ.get("PATH_INFO", ""))](environ,
                                                                           start_response)


@dataclass
class Network:
    wsgi: PathDispatcher
    deps: dict[str, ServiceDeps]
    broker: EmbeddedBroker
    settings: Settings
    sandbox_engine: object
    console: object = None  # the operator console's runtime (parking lot, queue figures)

    def start_loops(self, loops: Loops, *, threads: int = 4) -> None:
        """Every service's relay, consumer and background loops (services/processes.py) as
        threads of this process, on the embedded bus."""
        self.broker.release_leases()
        transport = processes.Embedded(self.broker, threads=threads,
                                       max_attempts=self.settings.max_attempts)
        wirings = {svc: processes.Wiring.of(deps, transport, self.console)
                   for svc, deps in self.deps.items()}
        wirings["partner_sandbox"] = processes.Wiring(
            "partner_sandbox", self.settings.for_service("partner_sandbox"), transport,
            self.sandbox_engine)
        processes.start_network(loops, wirings)


def build_network(settings: Settings) -> Network:
    deps = {svc: BOOTSTRAPS[svc](settings.for_service(svc)) for svc in BOOTSTRAPS}
    apps = {svc: APP_FACTORIES[svc](settings.for_service(svc), deps[svc])
            for svc in APP_FACTORIES}
    broker = EmbeddedBroker(settings.bus_url, registry.topology(settings))
    console = console_runtime(settings.for_service("ops"), broker,
                              engines={svc: d.engine for svc, d in deps.items()})
    apps["ops"] = ops_app(settings.for_service("ops"), deps["ops"], console)
    sandbox = sandbox_app(settings.for_service("partner_sandbox"))
    apps["partner_sandbox"] = sandbox
    # one process: the other services read intake's token revocations directly, not over HTTP
    feed = direct_feed(deps["intake"].session_factory, deps["intake"].clock)
    for svc, app in apps.items():
        if svc != "intake":
            app.extensions["lotse_revocations"] = RevocationList(
                feed, settings.revocation_refresh_seconds)
    return Network(PathDispatcher(apps), deps, broker, settings,
                   sandbox.extensions["sandbox_engine"], console)
