"""Logging in through the city's identity provider (OpenID Connect), when configured: the
login page shows "Log in with <name>"; the provider sends the browser back to the callback,
which starts the same session as the password login, or shows why it did not."""
from __future__ import annotations

import logging

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session
from flask_babel import gettext as _
from joserfc.errors import JoseError

from services.intake.ui import _safe_next
from shared.auth import USERNAME_MAX, allow_anonymous, log_in
from shared.config import OidcSettings
from shared.oidc import (OidcRefused, OidcUsernameTooLong, id_token_checks, oidc_client,
                         principal_from_claims)

bp = Blueprint("oidc_login", __name__)
log = logging.getLogger("lotse.auth")


def _oidc() -> tuple[OidcSettings, object, str]:
    return current_app.extensions["lotse_oidc"]


@bp.get("/login/oidc")
def start():
    """To the identity provider, remembering where the user wanted to go."""
    _, client, callback = _oidc()
    target = request.args.get("next", "")
    session["oidc_next"] = target if _safe_next(target) else ""
    try:
        return client.authorize_redirect(callback)
    except (requests.RequestException, OAuthError, ValueError) as exc:
        log.warning("identity provider unavailable", extra={"error": type(exc).__name__})
        return _refused(_("The identity provider cannot be reached. Try again later."), 502)


@bp.get("/login/oidc/callback")
def callback():
    """Check the provider's answer (state, code, ID token) and log the user in."""
    oidc, client, _callback = _oidc()
    target = session.pop("oidc_next", "")
    try:
        token = client.authorize_access_token(claims_options=id_token_checks(oidc))
    except (OAuthError, JoseError, requests.RequestException, ValueError) as exc:
        log.info("OpenID Connect login refused", extra={"error": type(exc).__name__})
        return _refused(_("The login through the identity provider failed or was not "
                          "confirmed. Please try again."), 401)
    claims = token.get("userinfo")
    if not claims:
        return _refused(_("The identity provider sent no ID token."), 401)
    try:
        principal = principal_from_claims(claims, oidc)
    except OidcUsernameTooLong as exc:
        log.info("OpenID Connect login refused", extra={"reason": str(exc)})
        return _refused(_("Your user name at the identity provider is longer than Lotse "
                          "allows (%(max)s characters). Ask your administrator for access.",
                          max=USERNAME_MAX), 403)
    except OidcRefused as exc:
        log.info("OpenID Connect login without a Lotse role", extra={"reason": str(exc)})
        return _refused(_("Your account at the identity provider has no valid Lotse role. "
                          "Ask your administrator for access."), 403)
    log_in(principal)
    return redirect(target or "/")


def _refused(message: str, status: int):
    session.clear()  # nothing logged in
    return render_template("intake/login.html", error=message), status


def register(app: Flask, oidc: OidcSettings, intake_url: str) -> None:
    """Add the OpenID Connect login to the intake app (only when configured)."""
    callback = intake_url.rstrip("/") + "/login/oidc/callback"
    app.extensions["lotse_oidc"] = (oidc, oidc_client(app, oidc), callback)
    app.register_blueprint(bp)
    allow_anonymous(app, "oidc_login.start", "oidc_login.callback")

    @app.context_processor
    def oidc_button() -> dict:
        return {"oidc_login_name": oidc.name}
