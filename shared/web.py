"""What every service's Flask app has: auth, CSRF for forms, JSON errors, health, OpenAPI,
Prometheus metrics."""
from __future__ import annotations

import logging
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, Response, abort, g, has_request_context, jsonify,
                   redirect, render_template, request, send_from_directory, session)
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader, pass_context
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from shared import metrics
from shared.auth import init_auth
from shared.config import Settings
from shared.logging import new_correlation_id, set_correlation_id

log = logging.getLogger("lotse.http")
SHARED_TEMPLATES = Path(__file__).parent / "templates"


class FieldError(Exception):
    """A business rule broken by one input field; reaches the client as 422 naming the field."""

    status = 422

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def field_errors(field: str, message: str) -> dict[str, Any]:
    """'person.birth_date' -> {"person": {"birth_date": [message]}} (marshmallow's shape)."""
    tree: dict[str, Any] = {}
    node = tree
    parts = field.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = [message]
    return tree


def create_service_app(import_name: str, settings: Settings, *, title: str, spec_prefix: str,
                       readiness: Iterable[tuple[str, Callable[[], None]]],
                       informative: Iterable[tuple[str, Callable[[], None]]] = ()
                       ) -> tuple[Flask, Api]:
    """The common skeleton of a Lotse service app; the service adds its blueprints."""
    app = Flask(import_name)
    app.secret_key = settings.secret_key
    app.config.update(
        API_TITLE=title, API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=spec_prefix, OPENAPI_JSON_PATH="openapi.json",
        # Swagger UI from the swagger-ui-bundle package, served locally: the docs page works
        # on a network without internet access.
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{spec_prefix}/swagger-ui/",
        WTF_CSRF_TIME_LIMIT=None, JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={"components": {"securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}]},
    )
    loaders: list[BaseLoader] = [FileSystemLoader(SHARED_TEMPLATES)]
    if app.jinja_loader is not None:  # the service's own templates come first
        loaders.insert(0, app.jinja_loader)
    app.jinja_loader = ChoiceLoader(loaders)
    app.jinja_env.globals["service_urls"] = dict(settings.service_urls)
    words_in_pages(app)
    init_auth(app, login_url=settings.service_urls.get("intake", "") + "/login",
              settings=settings)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes  # larger bodies: 413
    limit_json_nesting(app)
    secure_headers(app, settings, docs_prefix=spec_prefix)
    app.extensions["csrf"] = CSRFProtect(app)
    api = Api(app)
    _register_errors(app)
    _register_correlation(app, service_name(import_name))
    app.register_blueprint(health_blueprint(readiness, informative))
    add_metrics_route(app)
    app.register_blueprint(swagger_ui_assets(spec_prefix))
    init_i18n(app)
    return app, api


UI_LANGUAGES = {"de": "Deutsch", "en": "English"}
TRANSLATIONS = Path(__file__).parent / "translations"


def words_in_pages(app: Flask) -> None:
    """Filters that show codes by their words and times and dates as the city reads them, in
    the UI's language (shared/words.py): `code|label('need')`, `when|city_time`,
    `day|city_date`."""
    from shared import words

    # pass_context: Jinja would otherwise fold a constant's word into the compiled template,
    # in the language of the first page that rendered it
    @pass_context
    def label(_context: Any, code: Any, vocabulary: str) -> str:
        return words.label(code, vocabulary, _page_language())

    @pass_context
    def time_in_city(_context: Any, value: Any, weekday: bool = True) -> str:
        return words.city_datetime(value, _page_language(), weekday=weekday)

    @pass_context
    def date_in_city(_context: Any, value: Any) -> str:
        return words.city_date(value, _page_language())

    app.jinja_env.filters["label"] = label
    app.jinja_env.filters["city_time"] = time_in_city
    app.jinja_env.filters["city_date"] = date_in_city
    app.jinja_env.globals["choices"] = lambda vocabulary: words.choices(vocabulary,
                                                                        _page_language())
    # nationalities and languages by name (CLDR): `code|country`, `code|language`
    app.jinja_env.filters["country"] = pass_context(
        lambda _context, code: words.country_name(code, _page_language()))
    app.jinja_env.filters["language"] = pass_context(
        lambda _context, code: words.language_name(code, _page_language()))


def _page_language() -> str:
    return ui_language() if has_request_context() else "de"


def init_i18n(app: Flask) -> None:
    """German and English UI from standard gettext catalogues (shared/translations)."""
    from flask_babel import Babel

    app.config.update(BABEL_DEFAULT_LOCALE="de",
                      BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS))
    Babel(app, locale_selector=ui_language)
    app.jinja_env.globals["ui_languages"] = UI_LANGUAGES
    app.jinja_env.globals["ui_lang"] = ui_language
    bp = Blueprint("ui_language", __name__)

    @bp.get("/ui-language/<lang>")
    def switch(lang: str) -> BaseResponse:
        if lang in UI_LANGUAGES:
            session["ui_lang"] = lang
        back = request.referrer or "/"
        return redirect(back if back.startswith(request.host_url) else "/")

    app.register_blueprint(bp)
    from shared.auth import allow_anonymous

    allow_anonymous(app, "ui_language.switch")


def ui_language() -> str:
    """The staff member's choice, else the browser's preference, else German."""
    chosen = session.get("ui_lang")
    if isinstance(chosen, str) and chosen in UI_LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(UI_LANGUAGES)) or "de"


def swagger_ui_assets(spec_prefix: str) -> Blueprint:
    from swagger_ui_bundle import swagger_ui_path

    bp = Blueprint("swagger_ui_assets", __name__)

    @bp.get(f"{spec_prefix}/swagger-ui/<path:filename>")
    def asset(filename: str) -> Response:
        return send_from_directory(swagger_ui_path, filename)

    return bp


class AppDeps(Protocol):
    """What the app skeleton needs of a bus service's deps (shared/service.py ServiceDeps)."""

    def ping_database(self) -> None: ...


def build_service_app(import_name: str, settings: Settings, deps: AppDeps, *, title: str,
                      spec_prefix: str, api_blueprints: Iterable[Blueprint],
                      blueprints: Iterable[Blueprint]) -> Flask:
    """A bus service's app: JSON APIs (bearer tokens, no CSRF), UI and ops blueprints."""
    from shared.service import broker_check

    app, rest = create_service_app(import_name, settings, title=title, spec_prefix=spec_prefix,
                                   readiness=[("database", deps.ping_database)],
                                   informative=[("bus", broker_check(settings))])
    app.extensions["lotse"] = deps
    for blueprint in api_blueprints:
        rest.register_blueprint(blueprint)
        exempt_from_csrf(app, blueprint)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app


def exempt_from_csrf(app: Flask, blueprint: Blueprint) -> None:
    """JSON APIs authenticate with bearer tokens, not cookies, so CSRF does not apply."""
    app.extensions["csrf"].exempt(blueprint)


def health_blueprint(readiness: Iterable[tuple[str, Callable[[], None]]],
                     informative: Iterable[tuple[str, Callable[[], None]]] = ()) -> Blueprint:
    """`/healthz`: the process answers. `/readyz`: 503 when a `readiness` check fails; the
    `informative` ones are reported but do not make the server unready (an HTTP server
    writes its events to its outbox, so it serves while the broker is away)."""
    bp = Blueprint("health", __name__)
    checks = list(readiness)
    notes = list(informative)

    @bp.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks:
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                results[name], ok = f"unavailable: {type(exc).__name__}", False
        for name, check in notes:
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__} (not needed to serve)"
        return jsonify(status="ok" if ok else "unavailable", checks=results), 200 if ok else 503

    return bp


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _register_errors(app: Flask) -> None:
    @app.errorhandler(FieldError)
    def field_error(exc: FieldError) -> tuple[Response, int]:
        return jsonify(code=422, status="Unprocessable Entity", message=exc.message,
                       errors={"json": field_errors(exc.field, exc.message)}), 422

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response | str, int]:
        code = exc.code or 500  # Flask hands only exceptions with a code to this handler
        if _wants_json():
            body: dict[str, Any] = {"code": code, "status": exc.name}
            data = getattr(exc, "data", None) or {}
            if "messages" in data:
                body["errors"] = data["messages"]
            elif exc.description:
                body["message"] = exc.description
            return jsonify(body), code
        return render_template("error.html", error=exc), code


MAX_JSON_DEPTH = 32  # far above any Lotse document, far below Python's recursion limit
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# A string, or one never closed, which then runs to the end: either way one pass, so a body of
# many unclosed quotes costs no more than its length (scanning on from each was quadratic).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than `limit` (brackets in strings aside), or
    too many of them never close. The JSON parsers recurse per level: a deeper body would
    end in a RecursionError (a 500) before any schema sees it. Each round of the loop
    removes the innermost pairs, in C; a normal body is answered by the count alone."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", body))
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not brackets:
            return False
        if not removed:
            return True  # unbalanced: brackets left that never close (or never opened)
    return True


def limit_json_nesting(app: Flask) -> None:
    """Every request body but a form is checked before a view or webargs parses it (some
    views parse any body as JSON): too deep means 400 naming the limit."""
    @app.before_request
    def refuse_deep_json() -> None:
        if request.mimetype not in _FORMS and json_too_deep(request.get_data(cache=True)):
            abort(400, f"The JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} "
                       "levels (or its brackets do not balance).")


def secure_headers(app: Flask, settings: Settings, docs_prefix: str) -> None:
    """Content-Security-Policy with a nonce per response for our inline scripts, and the
    usual headers. Only the Swagger UI page (a third-party template) may run inline code."""
    origins = sorted({"{0}://{1}".format(*urlsplit(u)[:2]) for u in
                      settings.service_urls.values() if u.startswith("http")})
    others = " ".join(origins)
    https = any(u.startswith("https://") for u in settings.service_urls.values())
    if https:
        app.config["SESSION_COOKIE_SECURE"] = True

    @app.before_request
    def make_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    app.jinja_env.globals["csp_nonce"] = lambda: g.get("csp_nonce", "")

    @app.after_request
    def add_headers(response: Response) -> Response:
        docs = request.path.startswith(f"{docs_prefix}/docs")
        script = "'self' 'unsafe-inline'" if docs else f"'self' 'nonce-{g.get('csp_nonce', '')}'"
        response.headers.setdefault("Content-Security-Policy", "; ".join((
            "default-src 'self'", f"script-src {script}", "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:", f"connect-src 'self' {others}".strip(),
            f"form-action 'self' {others}".strip(), "frame-ancestors 'none'",
            "base-uri 'none'", "object-src 'none'")))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.headers.setdefault("Permissions-Policy",
                                    "camera=(), microphone=(), geolocation=(), payment=()")
        if https:
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        if request.endpoint not in (None, "static") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"  # pages with personal data
        return response


def service_name(import_name: str) -> str:
    """'services.intake.app' -> 'intake' (the `service` label of the HTTP metrics)."""
    parts = import_name.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "services" else import_name


def add_metrics_route(app: Flask) -> None:
    """`GET /metrics` in Prometheus text format, for scrapers: no login, no CSRF, and not in
    the OpenAPI document (a plain Flask blueprint, not a flask-smorest one). In embedded mode
    the one process holds every service's metrics, so any app's /metrics shows them all."""
    from shared.auth import allow_anonymous

    bp = Blueprint("metrics", __name__)

    @bp.get("/metrics")
    def metrics_page() -> Response:
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    app.register_blueprint(bp)
    allow_anonymous(app, "metrics.metrics_page")
    exempt_from_csrf(app, bp)


UNTIMED = ("/healthz", "/readyz", "/metrics")


def _register_correlation(app: Flask, service: str) -> None:
    @app.before_request
    def take_correlation_id() -> None:
        g.correlation_id = request.headers.get("X-Correlation-ID") or new_correlation_id()
        g.started = time.monotonic()
        set_correlation_id(g.correlation_id)

    @app.after_request
    def tag_response(response: Response) -> Response:
        response.headers["X-Correlation-ID"] = g.get("correlation_id", "")
        if request.path not in UNTIMED:
            seconds = time.monotonic() - g.get("started", time.monotonic())
            metrics.observe_http(service, request.method, response.status_code, seconds)
            log.info("request", extra={"method": request.method, "path": request.path,
                                       "status": response.status_code,
                                       "ms": round(seconds * 1000, 1)})
        return response
