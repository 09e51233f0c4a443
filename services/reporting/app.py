"""Flask app factory of the reporting service."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.reporting import api, ui
from services.reporting.bootstrap import bootstrap
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps
from shared.web import build_service_app


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("reporting")
    deps = deps or bootstrap(settings)
    return build_service_app(__name__, settings, deps,
                             title="Lotse reports API",
                             spec_prefix="/api/v1/reporting",
                             api_blueprints=[api.blp],
                             blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                         ui.bp])
