"""Flask app factory of the partner adapter service."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.partner_adapter import api, ui
from services.partner_adapter.bootstrap import bootstrap
from shared.auth import allow_anonymous
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps
from shared.web import build_service_app


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("partner_adapter")
    deps = deps or bootstrap(settings)
    app = build_service_app(__name__, settings, deps,
                             title="Lotse partner adapter API",
                             spec_prefix="/api/v1/partner-adapter",
                             api_blueprints=[api.blp, api.callbacks],
                             blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                         *[ui.bp]])
    allow_anonymous(app, "partner_callbacks.PartnerCallback")  # HMAC-signed instead
    return app
