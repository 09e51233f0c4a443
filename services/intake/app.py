"""Flask app factory of the intake service."""
from __future__ import annotations

from flask import Flask

from services import registry
from services.intake import (api, data_protection, erasure_views, inbound_api, inbound_ui,
                            next_steps, ui, walk_in_api, walk_in_ui)
from services.intake.bootstrap import bootstrap
from services.intake import oidc_login, token_api
from services.intake.token_revocations import own_revocation_list
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
                                             api.auth_blp, data_protection.blp, erasure_views.blp,
                                             walk_in_api.blp, inbound_api.blp],
                             blueprints=[ops_blueprint(deps, registry.topology(settings)),
                                         ui.bp, data_protection.bp, erasure_views.bp,
                                         next_steps.bp, walk_in_ui.bp, inbound_ui.bp])
    allow_anonymous(app, "auth.Token", "intake_ui.login", "intake_ui.logout", "intake_ui.home")
    # the walk-in kiosk and display: no login, but only at addresses holding the site's key
    allow_anonymous(app, *walk_in_ui.ANONYMOUS_ENDPOINTS)
    # authentication (docs/security.md): token logout and revocations, the revocation feed
    # of the other services (service credential), optional OpenID Connect login
    # the clock is looked up at each refresh: tests move it after the app was built
    token_api.register(app, own_revocation_list(deps.session_factory, lambda: deps.clock()))
    if settings.oidc is not None:
        oidc_login.register(app, settings.oidc, settings.service_urls.get("intake", ""))
    return app
