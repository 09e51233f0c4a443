"""Who is asking: users with roles, bearer tokens for the API and a session for the UI, and
the other Lotse services on the internal routes.

Tokens and session cookies are signed with the process's secret key, so every service can
check them without asking the service that issued them. Each carries an id (jti) and an
expiry; revoked ids come from the intake service (shared/revocations.py). Service-to-service
credentials are signed with a secret of their own and are accepted on /internal/ routes only,
where nothing else is. Unsafe API requests authenticated by the session cookie need the CSRF
header. Passwords are hashed with Argon2id (argon2-cffi); older werkzeug (scrypt) hashes are
still accepted and replaced at the next login. There are no default passwords outside the
demo seed. Details: docs/security.md.
"""
from __future__ import annotations

import math
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import wraps
from typing import Callable, ParamSpec, Protocol, TypeVar
from urllib.parse import urlencode

from flask import Flask, Response, abort, current_app, g, jsonify, redirect, request, session
from flask.typing import ResponseReturnValue
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response as BaseResponse

from shared.clock import utcnow
from shared.config import Settings

# management reads the centre's figures (services/reporting) and nothing personal
ROLES = ("staff", "partner", "operator", "management", "admin")
TOKEN_MAX_AGE = 8 * 3600  # one working day (default of LOTSE_TOKEN_TTL_SECONDS)
SERVICE_TOKEN_TTL = 60  # a service credential is minted per call: short-lived is free
INTERNAL_PREFIX = "/internal/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USERNAME_MAX = 60  # the shortest column a username is written to (token_revocations)

Secret = str | bytes  # a signing key (Flask's app.secret_key may be either)
JsonRefusal = tuple[Response, int]
P = ParamSpec("P")
R = TypeVar("R")


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


@dataclass(frozen=True)
class Credential:
    """What a request showed (a bearer token or a session): whose it is, its id and its
    lifetime in epoch seconds. The id (jti) is what a revocation names."""

    principal: Principal
    jti: str
    issued_at: float
    expires_at: float


class RevocationCheck(Protocol):
    def is_revoked(self, credential: Credential, now: datetime) -> bool: ...


def new_credential(principal: Principal, ttl: int = TOKEN_MAX_AGE,
                   now: datetime | None = None) -> Credential:
    # milliseconds: "every token of a user up to now" must not catch one issued just after;
    # rounded down, or one issued just before could get a later time and escape it
    issued = math.floor((now or utcnow()).timestamp() * 1000) / 1000
    return Credential(principal, secrets.token_urlsafe(16), issued, issued + ttl)


def _serializer(secret: Secret, salt: str) -> URLSafeSerializer:
    if not secret:
        raise ValueError("no signing secret configured")
    return URLSafeSerializer(secret, salt=salt)


def sign_credential(secret: Secret, credential: Credential) -> str:
    return _serializer(secret, "lotse-api-token").dumps(
        {**asdict(credential.principal), "jti": credential.jti, "iat": credential.issued_at,
         "exp": credential.expires_at})


def issue_token(secret: str, principal: Principal, *, ttl: int = TOKEN_MAX_AGE,
                now: datetime | None = None) -> str:
    """A signed bearer token for `principal`, valid for `ttl` seconds from `now`."""
    return sign_credential(secret, new_credential(principal, ttl, now))


def read_credential(secret: Secret, token: str, now: datetime | None = None) -> Credential | None:
    """The token's credential; None if forged, malformed or expired at `now`."""
    try:
        data = dict(_serializer(secret, "lotse-api-token").loads(token))
        credential = Credential(Principal(data.pop("username"), data.pop("role"),
                                          data.pop("partner", None)),
                                str(data["jti"]), float(data["iat"]), float(data["exp"]))
    except (BadSignature, TypeError, KeyError, ValueError):
        return None
    return credential if _unexpired(credential, now) else None


def read_token(secret: str, token: str, now: datetime | None = None) -> Principal | None:
    credential = read_credential(secret, token, now)
    return credential.principal if credential else None


def _unexpired(credential: Credential, now: datetime | None) -> bool:
    return (now or utcnow()).timestamp() < credential.expires_at


def issue_service_token(secret: str, service: str, *, ttl: int = SERVICE_TOKEN_TTL,
                        now: datetime | None = None) -> str:
    """A credential naming the calling Lotse service, for /internal/ routes only; signed
    with the service secret, never the user-token one."""
    issued = (now or utcnow()).timestamp()
    return _serializer(secret, "lotse-service-token").dumps(
        {"service": service, "jti": secrets.token_urlsafe(12), "iat": issued,
         "exp": issued + ttl})


def read_service_token(secret: Secret, token: str, now: datetime | None = None) -> str | None:
    """The calling service's name; None if forged, malformed or expired."""
    try:
        data = _serializer(secret, "lotse-service-token").loads(token)
        service, expires = str(data["service"]), float(data["exp"])
    except (BadSignature, TypeError, KeyError, ValueError):
        return None
    return service if (now or utcnow()).timestamp() < expires else None


def request_time() -> datetime:
    """Now, by the service's injectable clock when it has one (tests move it)."""
    clock: Callable[[], datetime] = getattr(current_app.extensions.get("lotse"), "clock",
                                            None) or utcnow
    return clock()


def init_auth(app: Flask, login_url: str, settings: Settings | None = None) -> None:
    """Load the principal of every request from a bearer token or the UI session, or the
    calling service on /internal/ routes; refuse expired and revoked credentials."""
    app.config.update(SESSION_COOKIE_NAME="lotse_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", LOTSE_LOGIN_URL=login_url,
                      LOTSE_TOKEN_TTL=settings.token_ttl_seconds if settings else TOKEN_MAX_AGE)
    app.extensions["lotse_public_endpoints"] = set(ALWAYS_PUBLIC)
    app.extensions["lotse_service_secret"] = settings.service_secret if settings else ""
    from shared.revocations import revocation_list_for  # it builds on this module

    app.extensions["lotse_revocations"] = revocation_list_for(settings) if settings else None

    @app.before_request
    def load_principal() -> ResponseReturnValue | None:
        g.principal, g.credential, g.service, g.via_token = None, None, None, False
        if request.path.startswith(INTERNAL_PREFIX):
            return _authenticate_service(app)
        now = request_time()
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.via_token = True
            credential = _credential_from_token(app, header[7:].strip(), now)
            if credential is None and g.get("auth_problem") == "service":
                return unauthorized_json("service credentials are accepted on /internal/ "
                                         "routes only")
        else:
            credential = _credential_from_session(now)
        if credential is not None and _revoked(app, credential, now):
            g.auth_problem, credential = "revoked", None
            if not g.via_token:
                session.clear()
        if credential is not None:
            g.credential, g.principal = credential, credential.principal
            if not g.via_token:
                refused = _refuse_cookie_api_write_without_csrf(app)
                if refused is not None:
                    return refused
        if g.principal is None and request.endpoint not in app.extensions[
                "lotse_public_endpoints"]:
            return _refuse_anonymous(app)
        return None

    @app.context_processor
    def inject_principal() -> dict[str, Principal | None]:
        return {"principal": current_principal()}


def _credential_from_token(app: Flask, token: str, now: datetime) -> Credential | None:
    secret = app.secret_key or ""  # none set: _serializer refuses, as for an empty one
    credential = read_credential(secret, token, now)
    if credential is None:
        g.auth_problem = "invalid"
        if _validly_signed(secret, token):
            g.auth_problem = "expired"  # ours and well-formed, so only its time is up
        elif app.extensions["lotse_service_secret"] and read_service_token(
                app.extensions["lotse_service_secret"], token, now):
            g.auth_problem = "service"
    return credential


def _validly_signed(secret: Secret, token: str) -> bool:
    try:
        _serializer(secret, "lotse-api-token").loads(token)
        return True
    except BadSignature:
        return False


def _credential_from_session(now: datetime) -> Credential | None:
    if "principal" not in session:
        return None
    try:
        meta = session["credential"]
        credential = Credential(Principal(**session["principal"]), meta["jti"],
                                float(meta["iat"]), float(meta["exp"]))
    except (KeyError, TypeError, ValueError):
        credential = None  # a session from before sessions had an id and an expiry
    if credential is None or not _unexpired(credential, now):
        g.auth_problem = "expired"
        session.clear()
        return None
    return credential


def _revoked(app: Flask, credential: Credential, now: datetime) -> bool:
    check: RevocationCheck | None = app.extensions.get("lotse_revocations")
    return check is not None and check.is_revoked(credential, now)


def _authenticate_service(app: Flask) -> JsonRefusal | None:
    """/internal/ routes: a service credential and nothing else (no user token, no session)."""
    header = request.headers.get("Authorization", "")
    secret = app.extensions["lotse_service_secret"]
    service = (read_service_token(secret, header[7:].strip(), request_time())
               if header.startswith("Bearer ") and secret else None)
    if service is None:
        return unauthorized_json("internal routes accept a service credential only")
    g.service = service
    return None


def _refuse_cookie_api_write_without_csrf(app: Flask) -> JsonRefusal | None:
    """A page of another site in the same browser could make the browser send our session
    cookie with a write to the API (a form post, or fetch with credentials). So an unsafe
    API request that the cookie authenticates must carry the page's CSRF token in the
    X-CSRFToken header, which no other site can read; bearer-token requests are unaffected."""
    if request.method not in UNSAFE_METHODS or not request.path.startswith("/api/"):
        return None
    if not app.config.get("WTF_CSRF_ENABLED", True) or request.endpoint in app.extensions[
            "lotse_public_endpoints"]:
        return None
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token"))
    except ValidationError as exc:
        return jsonify(code=403, status="Forbidden",
                       message=f"CSRF check failed ({exc.args[0] if exc.args else 'invalid'}): "
                               "a write with the session cookie needs the page's CSRF token "
                               "in the X-CSRFToken header (<meta name=\"csrf-token\">); "
                               "API clients use a bearer token instead"), 403
    return None


# Health checks and the ways to log in; everything else needs a user (deny by default).
ALWAYS_PUBLIC = ("health.healthz", "health.readyz", "static", None)


def allow_anonymous(app: Flask, *endpoints: str) -> None:
    """Endpoints that authenticate otherwise (login form, token, signed callbacks, API keys)."""
    app.extensions["lotse_public_endpoints"].update(endpoints)


AUTH_PROBLEMS = {
    "expired": "the token or session has expired: get a new one (POST /api/v1/auth/token)",
    "revoked": "the token or session was revoked: get a new one (POST /api/v1/auth/token)",
}


def _refuse_anonymous(app: Flask) -> JsonRefusal | BaseResponse:
    if request.path.startswith("/api/") or not request.accept_mimetypes.accept_html:
        return unauthorized_json(AUTH_PROBLEMS.get(
            g.get("auth_problem"), "a valid bearer token is required (POST /api/v1/auth/token)"))
    login = app.config["LOTSE_LOGIN_URL"]
    return redirect(f"{login}?{urlencode({'next': request.url})}")


def current_principal() -> Principal | None:
    principal: Principal | None = g.get("principal")  # set by load_principal only
    return principal


def current_credential() -> Credential | None:
    """The token or session of this request (its jti is what logging out revokes)."""
    credential: Credential | None = g.get("credential")  # set by load_principal only
    return credential


def current_service() -> str | None:
    """The calling Lotse service on an /internal/ route."""
    service: str | None = g.get("service")  # set by load_principal only
    return service


def log_in(principal: Principal) -> Credential:
    """Start a UI session: it has an id and an expiry like a token (LOTSE_TOKEN_TTL_SECONDS),
    so it can be revoked and does not live on forever in a forgotten browser."""
    credential = new_credential(principal, current_app.config.get("LOTSE_TOKEN_TTL",
                                                                  TOKEN_MAX_AGE),
                                request_time())
    session.clear()
    session["principal"] = asdict(principal)
    session["credential"] = {"jti": credential.jti, "iat": credential.issued_at,
                             "exp": credential.expires_at}
    return credential


def log_out() -> None:
    session.clear()


def api_roles(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """API guard: 401 without a valid token, 403 with the wrong role."""
    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = current_principal()
            if principal is None:
                abort(401, "a valid bearer token is required (POST /api/v1/auth/token)")
            if not principal.has(*roles):
                abort(403, f"role {principal.role!r} may not do this")
            return view(*args, **kwargs)
        return wrapper
    return decorator


def ui_roles(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R | BaseResponse]]:
    """UI guard: to the login form without a session, 403 page with the wrong role."""
    def decorator(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
            principal = current_principal()
            if principal is None:
                login = current_app.config["LOTSE_LOGIN_URL"]
                return redirect(f"{login}?{urlencode({'next': request.url})}")
            if not principal.has(*roles):
                abort(403)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def unauthorized_json(message: str) -> JsonRefusal:
    return jsonify(code=401, status="Unauthorized", message=message), 401
