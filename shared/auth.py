"""Who is asking: users with roles, bearer tokens for the API and a session for the UI.

Tokens and session cookies are signed with the process's secret key, so every service can
check them without asking the service that issued them. Passwords are hashed with Argon2id
(argon2-cffi); older werkzeug (scrypt) hashes are still accepted and replaced at the next
login. There are no default passwords outside the demo seed.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import wraps
from typing import Callable
from urllib.parse import urlencode

from flask import Flask, abort, current_app, g, jsonify, redirect, request, session
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.security import check_password_hash

ROLES = ("staff", "partner", "operator", "admin")
TOKEN_MAX_AGE = 8 * 3600  # one working day


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    partner: str | None = None

    def has(self, *roles: str) -> bool:
        return self.role in roles or self.role == "admin"


_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106 low-memory) parameters
_DUMMY_HASH = _hasher.hash("no such user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists (pass None for an unknown user)."""
    if password_hash is None:
        _verify(_DUMMY_HASH, password)
        return False
    if not password_hash.startswith("$argon2"):
        return check_password_hash(password_hash, password)  # a legacy werkzeug hash
    return _verify(password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Legacy hashes, or Argon2 hashes made with weaker parameters than today's."""
    return not password_hash.startswith("$argon2") or _hasher.check_needs_rehash(password_hash)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="lotse-api-token")


def issue_token(secret: str, principal: Principal) -> str:
    return _serializer(secret).dumps(asdict(principal))


def read_token(secret: str, token: str) -> Principal | None:
    try:
        data = _serializer(secret).loads(token, max_age=TOKEN_MAX_AGE)
        return Principal(**data)
    except (BadSignature, TypeError):
        return None


def init_auth(app: Flask, login_url: str) -> None:
    """Load the principal of every request from a bearer token or the UI session."""
    app.config.update(SESSION_COOKIE_NAME="lotse_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", LOTSE_LOGIN_URL=login_url)
    app.extensions["lotse_public_endpoints"] = set(ALWAYS_PUBLIC)

    @app.before_request
    def load_principal() -> None:
        g.principal = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.principal = read_token(app.secret_key, header[7:].strip())
            g.via_token = True
        elif "principal" in session:
            g.principal = Principal(**session["principal"])
            g.via_token = False
        if g.principal is None and request.endpoint not in app.extensions[
                "lotse_public_endpoints"]:
            return _refuse_anonymous(app)

    @app.context_processor
    def inject_principal() -> dict:
        return {"principal": g.get("principal")}


# Health checks and the ways to log in; everything else needs a user (deny by default).
ALWAYS_PUBLIC = ("health.healthz", "health.readyz", "static", None)


def allow_anonymous(app: Flask, *endpoints: str) -> None:
    """Endpoints that authenticate otherwise (login form, token, signed callbacks, API keys)."""
    app.extensions["lotse_public_endpoints"].update(endpoints)


def _refuse_anonymous(app: Flask):
    if request.path.startswith("/api/") or not request.accept_mimetypes.accept_html:
        return unauthorized_json("a valid bearer token is required (POST /api/v1/auth/token)")
    login = app.config["LOTSE_LOGIN_URL"]
    return redirect(f"{login}?{urlencode({'next': request.url})}")


def current_principal() -> Principal | None:
    return g.get("principal")


def log_in(principal: Principal) -> None:
    session.clear()
    session["principal"] = asdict(principal)


def log_out() -> None:
    session.clear()


def api_roles(*roles: str) -> Callable:
    """API guard: 401 without a valid token, 403 with the wrong role."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                abort(401, "a valid bearer token is required (POST /api/v1/auth/token)")
            if not principal.has(*roles):
                abort(403, f"role {principal.role!r} may not do this")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def ui_roles(*roles: str) -> Callable:
    """UI guard: to the login form without a session, 403 page with the wrong role."""
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                login = current_app.config["LOTSE_LOGIN_URL"]
                return redirect(f"{login}?{urlencode({'next': request.url})}")
            if not principal.has(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def unauthorized_json(message: str):
    return jsonify(code=401, status="Unauthorized", message=message), 401
