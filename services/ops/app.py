"""Flask app factory of the operator console."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from flask import Flask

from services import registry
from services.ops import api, ui
from services.ops.bootstrap import bootstrap
from services.ops.console import ConsoleLoop, thresholds
from services.ops.readings import Databases, QueueFigures, ServiceMetrics
from shared.bus.parking import ParkingLot, parking_lot
from shared.bus.topology import Topology
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps
from shared.web import build_service_app


@dataclass
class ConsoleRuntime:
    """What the console's views need besides its database: the broker's parking queues and
    queue figures (in embedded mode from the in-process broker), the services' metrics
    (outbox backlogs, partner circuits) and whether their databases answer."""

    topology: Topology
    lot: ParkingLot
    figures: QueueFigures
    databases: Databases
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)

    def loop(self, engine, settings: Settings, environ) -> ConsoleLoop:
        return ConsoleLoop(engine, settings, self.lot, self.figures, self.databases,
                           thresholds(environ), service_metrics=self.metrics)


def console_runtime(settings: Settings, broker=None, engines=None,
                    environ: Mapping[str, str] | None = None) -> ConsoleRuntime:
    topology = registry.topology(settings)
    if settings.embedded and broker is None:
        from shared.bus.embedded import EmbeddedBroker

        broker = EmbeddedBroker(settings.bus_url, topology)
    return ConsoleRuntime(topology, parking_lot(settings, topology, broker),
                          QueueFigures(settings, topology, broker),
                          Databases(settings, engines),
                          ServiceMetrics.from_environ(os.environ if environ is None
                                                      else environ))


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None,
               runtime: ConsoleRuntime | None = None) -> Flask:
    settings = settings or Settings.from_env("ops")
    deps = deps or bootstrap(settings)
    app = build_service_app(__name__, settings, deps,
                            title="Lotse operator console API",
                            spec_prefix="/api/v1/ops/console",
                            api_blueprints=[api.blp],
                            blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                        api.stream, ui.bp])
    app.extensions["csrf"].exempt(api.stream)
    app.extensions["ops_console"] = runtime or console_runtime(settings)
    return app
