"""Flask app factory of the intake service."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.intake import api, ui
from services.intake.bootstrap import bootstrap
from shared.auth import allow_anonymous
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps
from shared.web import build_service_app


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("intake")
    deps = deps or bootstrap(settings)
    app = build_service_app(__name__, settings, deps,
                             title="Lotse intake API",
                             spec_prefix="/api/v1",
                             api_blueprints=[api.blp, api.persons_blp, api.consents_blp,
                                             api.auth_blp],
                             blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                         *[ui.bp]])
    allow_anonymous(app, "auth.Token", "intake_ui.login", "intake_ui.logout", "intake_ui.home")
    return app
