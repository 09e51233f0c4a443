"""Flask app factory of the referral service."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.referral import api, courses_api, courses_ui, ui
from services.referral.bootstrap import bootstrap
from shared.config import Settings
from shared.ops import ops_blueprint
from shared.service import ServiceDeps
from shared.web import build_service_app


def create_app(settings: Settings | None = None, deps: ServiceDeps | None = None) -> Flask:
    settings = settings or Settings.from_env("referral")
    deps = deps or bootstrap(settings)
    return build_service_app(__name__, settings, deps,
                             title="Lotse referral API",
                             spec_prefix="/api/v1/referral",
                             api_blueprints=[api.blp, api.rules_blp, api.queue_blp,
                                             courses_api.blp, courses_api.directory_blp],
                             blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                         *[ui.bp, courses_ui.bp]])
