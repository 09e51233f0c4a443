"""Process settings: the only place that reads the environment."""
from __future__ import annotations

import os
import secrets
import ssl
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.partners import DIRECTORY, PartnerConfig
from shared.private_files import create_private

SERVICES = ("intake", "referral", "partner_adapter", "partner_sandbox", "ops", "reporting")
# From the partner directory (shared/defaults/partners.json): partners with a system Lotse delivers
# to, and partners without one, who take referrals over in Lotse's partner portal.
API_PARTNERS = tuple(code for code, p in DIRECTORY.items() if p.has_system)
PORTAL_PARTNERS = tuple(code for code, p in DIRECTORY.items() if not p.has_system)
PARTNERS = tuple(DIRECTORY)
DEFAULT_PORTS = {"gateway": 8000, "intake": 8001, "referral": 8002,
                 "partner_adapter": 8003, "partner_sandbox": 8004, "ops": 8005,
                 "reporting": 8006}


def port_of(process: str, environ: Mapping[str, str] | None = None) -> int:
    """Port of a distributed HTTP process; LOTSE_<NAME>_PORT overrides the default."""
    env = os.environ if environ is None else environ
    return int(env.get(f"LOTSE_{process.upper()}_PORT", DEFAULT_PORTS[process]))


# Secret values this repository has published (docker-compose.yml's old defaults, the
# sandbox's old key): anyone can read them, so a distributed process takes them for unset.
PUBLISHED_DEMO_SECRETS = frozenset({
    "demo-only-secret-key-change-me", "demo-only-callback-secret-change-me",
    "demo-only-service-secret-change-me", "sandbox-key",
})
# docker compose's own secrets (`lotse secrets` prints them too): the passwords of the database's
# and the broker's users, which compose puts into the URLs and the broker's boot definitions
COMPOSE_SECRETS = ("LOTSE_DB_PASSWORD", "LOTSE_BROKER_PASSWORD")
# Lotse's own secrets, with the file a process outside production generates each into
OWN_SECRETS = {"LOTSE_SECRET_KEY": "secret_key", "LOTSE_SERVICE_SECRET": "service_secret"}
# The reporting service's pseudonym key: only its processes hold it (a service holding the ids
# could otherwise recompute the keys); never rotated: a new key makes returning persons new
REPORTING_KEY = "LOTSE_REPORTING_KEY"


class SecretMissing(ValueError):
    """A distributed process outside demo mode lacks a secret (or has a published one)."""


def secret_names(directory: Mapping[str, PartnerConfig] = DIRECTORY) -> list[str]:
    """Every secret a distributed process needs: Lotse's own, each partner system's
    credential and each partner's callback secret."""
    return [*OWN_SECRETS,
            *(p.secret_env for p in directory.values() if p.has_system and p.secret_env),
            *(p.callback_secret_env for p in directory.values() if p.callback_secret_env)]


def generated_secrets(directory: Mapping[str, PartnerConfig] = DIRECTORY) -> dict[str, str]:
    """A fresh random value for every secret: `lotse secrets` (an .env file for docker
    compose), and each run of the distributed stack in tests and benchmarks."""
    return {name: secrets.token_urlsafe(48)
            for name in (*secret_names(directory), REPORTING_KEY)}


@dataclass(frozen=True)
class SecretSource:
    """Where secrets come from: the variable or the file `<VAR>_FILE` names. A distributed
    process (a broker is set) outside demo mode requires them; otherwise a missing one is
    generated into the data dir once and kept there. A published value is refused in every
    mode: nobody needs one, and it would let anyone who read the repository in."""

    env: Mapping[str, str]
    data_dir: Path
    required: bool

    def get(self, name: str, file_name: str | None = None) -> str:
        value = self.optional(name)
        if value:
            return value
        if self.required:
            raise SecretMissing(f"{name} (or {name}_FILE) is not set: a distributed process "
                                "needs it (docs/security.md; `lotse secrets` makes them all, "
                                "LOTSE_DEMO=1 generates them for a demo)")
        return _secret_from_file(self.data_dir / (file_name or name.lower()))

    def optional(self, name: str) -> str | None:
        value = secret_value(self.env, name)
        if value and value in PUBLISHED_DEMO_SECRETS:
            raise SecretMissing(f"{name} is a published demo value: set a secret of your own")
        return value


def _secret_from_file(path: Path) -> str:
    """Embedded mode keeps a generated secret on disk so restarts keep sessions valid."""
    create_private(path, secrets.token_urlsafe(48))  # unless there is one already
    return path.read_text().strip()


def _delays(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything a Lotse process needs to know; built once, passed down."""

    service: str
    database_url: str
    broker_url: str | None
    data_dir: Path
    secret_key: str
    bus_url: str = ""
    bus_prefix: str = "lotse"
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    max_attempts: int = 6
    heartbeat: int = 15
    confirm_timeout: float = 10.0
    # kombu's `ssl` option for an amqps:// broker (docs/transport-security.md)
    broker_ssl: Mapping[str, object] | None = None
    worker_threads: int = 8
    worker_prefetch: int | None = None  # unacked messages per queue; None: see `prefetch`
    # messages of one queue handled in one transaction, and how long a partial batch waits
    # for more (shared/bus/delivery.py deliver_batch)
    worker_batch: int = 50
    worker_linger: float = 0.01
    # the partner adapter's case loop: calls at once, and due cases claimed per query
    case_opener_threads: int = 4
    case_opener_batch: int = 32
    case_opener_loops: int = 2  # round loops at once on those threads (rounds overlap)
    partner_base_url: str = "http://127.0.0.1:8000/sandbox"
    # per partner with a system: its credential; per partner answering by webhook: the
    # secrets its callbacks may be signed with (the current one first, then the previous one
    # while it is rotated)
    partner_credentials: Mapping[str, str] = field(default_factory=dict)
    callback_secrets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # LOTSE_DEMO: generated secrets for a distributed demo (`lotse stack --demo`)
    demo: bool = False
    callback_url: str = "http://127.0.0.1:8000/api/v1/partner-callbacks"
    service_urls: Mapping[str, str] = field(default_factory=dict)
    sandbox_auto_accept_seconds: float | None = None
    log_json: bool = True
    deadline_sweep_seconds: float = 30.0
    # read partners with only a read API this often instead of each one's poll_seconds
    # (demo and tests; unset in production)
    partner_poll_seconds: float | None = None
    # the operator console: RabbitMQ's management API (default: the broker's host, port 15672)
    # and where raised alerts are POSTed (optional)
    management_url: str | None = None
    alert_webhook_url: str | None = None
    # request bodies larger than this are refused with 413 (an intake is a few kB)
    max_request_bytes: int = 1024 * 1024
    # data protection (docs/data-protection.md): the retention schedule, how often each
    # worker applies it, and the data protection officer's contact for the Art. 30 record
    retention_file: Path | None = None
    retention_interval_seconds: float = 24 * 3600.0
    dpo_contact: str | None = None
    # authentication (docs/security.md): user tokens' lifetime; the service credential's own
    # secret (never the user-token one); where other services read intake's token revocations
    token_ttl_seconds: int = 8 * 3600
    service_secret: str = ""
    # the reporting service's pseudonym key (LOTSE_REPORTING_KEY); empty in other services'
    # processes when distributed
    reporting_key: str = ""
    intake_internal_url: str = "http://127.0.0.1:8001"
    revocation_refresh_seconds: float = 5.0
    # proxies whose X-Forwarded-For names the client (shared/client_address.py); default:
    # one on this machine, like the gateway of `make stack`
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    oidc: "OidcSettings | None" = None

    @property
    def prefetch(self) -> int:
        # two batches per queue in flight: one handled while the next gathers
        return self.worker_prefetch or max(2 * self.worker_threads, 2 * self.worker_batch)

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: the in-process, DB-backed bus is used."""
        return self.broker_url is None

    def for_service(self, service: str, environ: Mapping[str, str] | None = None) -> "Settings":
        """The same settings for a sibling service: its own SQLite file in embedded mode, the
        shared server database otherwise (unless LOTSE_<SERVICE>_DATABASE_URL says else)."""
        env = os.environ if environ is None else environ
        own = secret_value(env, f"LOTSE_{service.upper()}_DATABASE_URL")
        if own:
            url = _with_database_tls(own, env)
        elif self.database_url == _sqlite_url(self.data_dir, self.service):
            url = _sqlite_url(self.data_dir, service)
        else:
            url = self.database_url
        key = self.reporting_key
        if service == "reporting" and not key:  # else its bootstrap refuses to start
            key = SecretSource(env, self.data_dir, required=True).optional(REPORTING_KEY) or ""
        return replace(self, service=service, database_url=url, reporting_key=key)

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LOTSE_DATA_DIR", "var")).resolve()
        broker = secret_value(env, "LOTSE_BROKER_URL") or None
        demo = env.get("LOTSE_DEMO", "").lower() in ("1", "true", "yes")
        source = SecretSource(env, data_dir, required=bool(broker) and not demo)
        secret = source.get("LOTSE_SECRET_KEY", OWN_SECRETS["LOTSE_SECRET_KEY"])
        port = env.get("PORT") or env.get("LOTSE_GATEWAY_PORT", "8000")
        gateway = env.get("LOTSE_PUBLIC_URL", f"http://127.0.0.1:{port}")
        auto = env.get("LOTSE_SANDBOX_AUTO_ACCEPT")
        return cls(
            service=service,
            database_url=_database_url(service, env, data_dir),
            broker_url=broker,
            broker_ssl=_broker_tls(broker, env),
            data_dir=data_dir,
            secret_key=secret,
            demo=demo,
            bus_url=_with_database_tls(secret_value(env, "LOTSE_BUS_DATABASE_URL")
                                       or f"sqlite:///{data_dir / 'bus.db'}", env),
            bus_prefix=env.get("LOTSE_BUS_PREFIX", "lotse"),
            retry_delays=_delays(env.get("LOTSE_RETRY_DELAYS", "1,5,30,120,600")),
            max_attempts=int(env.get("LOTSE_MAX_ATTEMPTS", "6")),
            heartbeat=int(env.get("LOTSE_HEARTBEAT", "15")),
            confirm_timeout=float(env.get("LOTSE_CONFIRM_TIMEOUT", "10")),
            worker_threads=int(env.get("LOTSE_WORKER_THREADS", "8")),
            worker_prefetch=(int(env["LOTSE_WORKER_PREFETCH"])
                             if env.get("LOTSE_WORKER_PREFETCH") else None),
            worker_batch=max(1, int(env.get("LOTSE_WORKER_BATCH", "50"))),
            worker_linger=float(env.get("LOTSE_WORKER_LINGER", "0.01")),
            case_opener_threads=int(env.get("LOTSE_CASE_OPENER_THREADS", "4")),
            case_opener_batch=int(env.get("LOTSE_CASE_OPENER_BATCH", "32")),
            case_opener_loops=int(env.get("LOTSE_CASE_OPENER_LOOPS", "2")),
            # distributed: the stand-in systems at their own port, not through the gateway
            # (a partner's system is not behind Lotse's front door; one hop less per call)
            partner_base_url=env.get("LOTSE_PARTNER_BASE_URL", (
                f"http://127.0.0.1:{port_of('partner_sandbox', env)}/sandbox" if broker
                else f"{gateway}/sandbox")),
            partner_credentials=_partner_credentials(source),
            callback_secrets=_callback_secrets(source),
            callback_url=env.get("LOTSE_CALLBACK_URL", f"{gateway}/api/v1/partner-callbacks"),
            service_urls={name: env.get(f"LOTSE_{name.upper()}_URL", gateway)
                          for name in SERVICES},
            sandbox_auto_accept_seconds=float(auto) if auto else None,
            log_json=env.get("LOTSE_LOG_FORMAT", "json") == "json",
            deadline_sweep_seconds=float(env.get("LOTSE_DEADLINE_SWEEP_SECONDS", "30")),
            partner_poll_seconds=(float(env["LOTSE_PARTNER_POLL_SECONDS"])
                                  if env.get("LOTSE_PARTNER_POLL_SECONDS") else None),
            management_url=env.get("LOTSE_RABBITMQ_MANAGEMENT_URL") or None,
            alert_webhook_url=env.get("LOTSE_ALERT_WEBHOOK_URL") or None,
            max_request_bytes=int(env.get("LOTSE_MAX_REQUEST_BYTES", str(1024 * 1024))),
            retention_file=(Path(env["LOTSE_RETENTION_FILE"])
                            if env.get("LOTSE_RETENTION_FILE") else None),
            retention_interval_seconds=float(env.get("LOTSE_RETENTION_INTERVAL_SECONDS",
                                                     str(24 * 3600))),
            dpo_contact=env.get("LOTSE_DPO_CONTACT") or None,
            token_ttl_seconds=int(env.get("LOTSE_TOKEN_TTL_SECONDS", str(8 * 3600))),
            service_secret=_service_secret(source, secret),
            reporting_key=_reporting_key(source, service, secret),
            intake_internal_url=env.get("LOTSE_INTAKE_INTERNAL_URL",
                                        f"http://127.0.0.1:{port_of('intake', env)}"),
            revocation_refresh_seconds=float(env.get("LOTSE_REVOCATION_REFRESH_SECONDS", "5")),
            trusted_proxies=tuple(p.strip() for p in env.get(
                "LOTSE_TRUSTED_PROXIES", "127.0.0.1,::1").split(",") if p.strip()),
            oidc=OidcSettings.from_env(env),
        )


def secret_value(env: Mapping[str, str], name: str) -> str | None:
    """A secret from the variable itself or from the file `<name>_FILE` names."""
    if env.get(name):
        return env[name]
    if env.get(f"{name}_FILE"):
        return Path(env[f"{name}_FILE"]).read_text().strip()
    return None


def _service_secret(source: SecretSource, user_secret: str) -> str:
    """Signs service-to-service credentials; must differ from the user-token secret, so a
    leaked user-token key does not open the internal routes (and the other way round)."""
    secret = source.get("LOTSE_SERVICE_SECRET", OWN_SECRETS["LOTSE_SERVICE_SECRET"])
    if secret == user_secret:
        raise ValueError("LOTSE_SERVICE_SECRET must differ from LOTSE_SECRET_KEY")
    return secret


def _reporting_key(source: SecretSource, service: str, user_secret: str) -> str:
    """The reporting service's pseudonym key: required by its processes when distributed,
    not read by the others (embedded: one process, generated into the data dir once)."""
    if service != "reporting" and source.required:
        return ""
    key = source.get(REPORTING_KEY, "reporting_key")
    if key == user_secret:
        raise ValueError(f"{REPORTING_KEY} must differ from LOTSE_SECRET_KEY")
    return key


def _partner_credentials(source: SecretSource) -> dict[str, str]:
    return {code: source.get(p.secret_env) for code, p in DIRECTORY.items()
            if p.has_system and p.secret_env}


def _callback_secrets(source: SecretSource) -> dict[str, tuple[str, ...]]:
    """Each partner's own; `<VAR>_PREVIOUS` stays valid while the partner switches over."""
    return {code: (source.get(p.callback_secret_env),
                   *filter(None, [source.optional(f"{p.callback_secret_env}_PREVIOUS")]))
            for code, p in DIRECTORY.items() if p.callback_secret_env}


@dataclass(frozen=True)
class OidcSettings:
    """OpenID Connect login (optional): set when LOTSE_OIDC_ISSUER is set."""

    issuer: str
    client_id: str
    client_secret: str
    name: str = "Single Sign-On"
    # dotted path into the ID token's claims; a list (Keycloak realm roles) or a string
    role_claim: str = "realm_access.roles"
    role_prefix: str = ""  # e.g. "lotse-": realm role "lotse-staff" is Lotse's "staff"
    partner_claim: str = "lotse_partner"
    username_claim: str = "preferred_username"
    scope: str = "openid profile email"

    @property
    def discovery_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OidcSettings | None":
        if not env.get("LOTSE_OIDC_ISSUER"):
            return None
        client_id = env.get("LOTSE_OIDC_CLIENT_ID")
        client_secret = secret_value(env, "LOTSE_OIDC_CLIENT_SECRET")
        if not client_id or not client_secret:
            raise ValueError("LOTSE_OIDC_ISSUER is set: LOTSE_OIDC_CLIENT_ID and "
                             "LOTSE_OIDC_CLIENT_SECRET (or _FILE) are needed too")
        optional = {field_name: env[var] for field_name, var in (
            ("name", "LOTSE_OIDC_NAME"), ("role_claim", "LOTSE_OIDC_ROLE_CLAIM"),
            ("role_prefix", "LOTSE_OIDC_ROLE_PREFIX"),
            ("partner_claim", "LOTSE_OIDC_PARTNER_CLAIM"),
            ("username_claim", "LOTSE_OIDC_USERNAME_CLAIM"), ("scope", "LOTSE_OIDC_SCOPE"),
        ) if env.get(var)}
        return cls(env["LOTSE_OIDC_ISSUER"], client_id, client_secret, **optional)


def _database_url(service: str, env: Mapping[str, str], data_dir: Path) -> str:
    """Per-service URL first, then the shared one, then a SQLite file of the service's own."""
    url = (secret_value(env, f"LOTSE_{service.upper()}_DATABASE_URL")
           or secret_value(env, "LOTSE_DATABASE_URL"))
    return _with_database_tls(url, env) if url else _sqlite_url(data_dir, service)


DATABASE_TLS = {"sslmode": "LOTSE_DATABASE_SSLMODE", "sslrootcert": "LOTSE_DATABASE_SSLROOTCERT",
                "sslcert": "LOTSE_DATABASE_SSLCERT", "sslkey": "LOTSE_DATABASE_SSLKEY"}


def _with_database_tls(url: str, env: Mapping[str, str]) -> str:
    """A PostgreSQL URL with the LOTSE_DATABASE_SSL* settings as libpq parameters in its query
    (the driver's connect arguments); what the URL itself says wins. Naming a certificate
    without a mode means verify-full: a CA that is not checked protects nothing."""
    if not url.startswith("postgresql"):
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    given = {key: env[var] for key, var in DATABASE_TLS.items() if env.get(var)}
    if given and "sslmode" not in given and "sslmode" not in query:
        given["sslmode"] = "verify-full"
    if not given:
        return url
    return urlunsplit(parts._replace(query=urlencode({**given, **query})))


def _broker_tls(url: str | None, env: Mapping[str, str]) -> dict[str, Any] | None:
    """kombu's `ssl` option: TLS for an amqps:// URL, always verifying the broker's certificate
    (against LOTSE_BROKER_SSL_CA, else the system's CAs) and host name; a client certificate
    from LOTSE_BROKER_SSL_CERT and _KEY."""
    files = {"ca_certs": env.get("LOTSE_BROKER_SSL_CA"),
             "certfile": env.get("LOTSE_BROKER_SSL_CERT"),
             "keyfile": env.get("LOTSE_BROKER_SSL_KEY")}
    if not url or not url.startswith("amqps://"):
        if any(files.values()):
            raise ValueError("LOTSE_BROKER_SSL_* are set: LOTSE_BROKER_URL must be amqps://")
        return None
    return {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": urlsplit(url).hostname,
            **{key: path for key, path in files.items() if path}}


def _sqlite_url(data_dir: Path, service: str) -> str:
    return f"sqlite:///{data_dir / (service + '.db')}"
