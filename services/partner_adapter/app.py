"""Flask app factory of the partner adapter."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.partner_adapter import api, ui
from services.partner_adapter.bootstrap import bootstrap
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps, broker_check
from shared.web import create_service_app, exempt_from_csrf


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("partner_adapter")
    deps = deps or bootstrap(settings)
    app, rest = create_service_app(__name__, settings, title="Lotse partner adapter API",
                                   spec_prefix="/api/v1/partner-adapter",
                                   readiness=[("database", deps.ping_database),
                                              ("bus", broker_check(settings))])
    app.extensions["lotse"] = deps
    rest.register_blueprint(api.blp)
    rest.register_blueprint(api.callbacks)
    exempt_from_csrf(app, api.blp)
    exempt_from_csrf(app, api.callbacks)
    ops = ops_blueprint(deps, registry.topology(settings))
    app.register_blueprint(ops)
    app.register_blueprint(ui.bp)
    return app
