"""Flask app factory of the referral service."""
from __future__ import annotations

from flask import Flask

from services.referral import api, ui
from services.referral.bootstrap import bootstrap
from services import registry
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps, broker_check
from shared.web import create_service_app, exempt_from_csrf


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("referral")
    deps = deps or bootstrap(settings)
    app, rest = create_service_app(__name__, settings, title="Lotse referral API",
                                   spec_prefix="/api/v1/referral",
                                   readiness=[("database", deps.ping_database),
                                              ("bus", broker_check(settings))])
    app.extensions["lotse"] = deps
    rest.register_blueprint(api.blp)
    rest.register_blueprint(api.rules_blp)
    exempt_from_csrf(app, api.blp)
    exempt_from_csrf(app, api.rules_blp)
    app.register_blueprint(ops_blueprint(deps, registry.topology(settings)))
    app.register_blueprint(ui.bp)
    return app
