"""Process settings: the only place that reads the environment."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from shared.partners import DIRECTORY

SERVICES = ("intake", "referral", "partner_adapter", "partner_sandbox", "ops")
# From the partner directory (deploy/partners.json): partners with a system Lotse delivers
# to, and partners without one, who take referrals over in Lotse's partner portal.
API_PARTNERS = tuple(code for code, p in DIRECTORY.items() if p.has_system)
PORTAL_PARTNERS = tuple(code for code, p in DIRECTORY.items() if not p.has_system)
PARTNERS = tuple(DIRECTORY)
DEFAULT_PORTS = {"gateway": 8000, "intake": 8001, "referral": 8002,
                 "partner_adapter": 8003, "partner_sandbox": 8004, "ops": 8005}


def port_of(process: str, environ: Mapping[str, str] | None = None) -> int:
    """Port of a distributed HTTP process; LOTSE_<NAME>_PORT overrides the default."""
    env = os.environ if environ is None else environ
    return int(env.get(f"LOTSE_{process.upper()}_PORT", DEFAULT_PORTS[process]))


def _secret_from_file(path: Path) -> str:
    """Embedded mode keeps a generated secret on disk so restarts keep sessions valid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
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
    callback_secret: str
    bus_url: str = ""
    bus_prefix: str = "lotse"
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)
    max_attempts: int = 6
    heartbeat: int = 15
    confirm_timeout: float = 10.0
    worker_threads: int = 8
    partner_base_url: str = "http://127.0.0.1:8000/sandbox"
    partner_api_key: str = "sandbox-key"
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

    @property
    def embedded(self) -> bool:
        """True when no broker is configured: the in-process, DB-backed bus is used."""
        return self.broker_url is None

    def for_service(self, service: str, environ: Mapping[str, str] | None = None) -> "Settings":
        """The same settings for a sibling service: its own SQLite file in embedded mode, the
        shared server database otherwise (unless LOTSE_<SERVICE>_DATABASE_URL says else)."""
        env = os.environ if environ is None else environ
        own = env.get(f"LOTSE_{service.upper()}_DATABASE_URL")
        if own:
            url = own
        elif self.database_url == _sqlite_url(self.data_dir, self.service):
            url = _sqlite_url(self.data_dir, service)
        else:
            url = self.database_url
        return replace(self, service=service, database_url=url)

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("LOTSE_DATA_DIR", "var")).resolve()
        broker = env.get("LOTSE_BROKER_URL") or None
        secret = env.get("LOTSE_SECRET_KEY") or _secret_from_file(data_dir / "secret_key")
        callback_secret = (env.get("LOTSE_CALLBACK_SECRET")
                           or _secret_from_file(data_dir / "callback_secret"))
        port = env.get("PORT") or env.get("LOTSE_GATEWAY_PORT", "8000")
        gateway = env.get("LOTSE_PUBLIC_URL", f"http://127.0.0.1:{port}")
        auto = env.get("LOTSE_SANDBOX_AUTO_ACCEPT")
        return cls(
            service=service,
            database_url=_database_url(service, env, data_dir),
            broker_url=broker,
            data_dir=data_dir,
            secret_key=secret,
            callback_secret=callback_secret,
            bus_url=env.get("LOTSE_BUS_DATABASE_URL", f"sqlite:///{data_dir / 'bus.db'}"),
            bus_prefix=env.get("LOTSE_BUS_PREFIX", "lotse"),
            retry_delays=_delays(env.get("LOTSE_RETRY_DELAYS", "1,5,30,120,600")),
            max_attempts=int(env.get("LOTSE_MAX_ATTEMPTS", "6")),
            heartbeat=int(env.get("LOTSE_HEARTBEAT", "15")),
            confirm_timeout=float(env.get("LOTSE_CONFIRM_TIMEOUT", "10")),
            worker_threads=int(env.get("LOTSE_WORKER_THREADS", "8")),
            partner_base_url=env.get("LOTSE_PARTNER_BASE_URL", f"{gateway}/sandbox"),
            partner_api_key=env.get("LOTSE_PARTNER_API_KEY", "sandbox-key"),
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
        )


def _database_url(service: str, env: Mapping[str, str], data_dir: Path) -> str:
    """Per-service URL first, then the shared one, then a SQLite file of the service's own."""
    return (env.get(f"LOTSE_{service.upper()}_DATABASE_URL")
            or env.get("LOTSE_DATABASE_URL")
            or _sqlite_url(data_dir, service))


def _sqlite_url(data_dir: Path, service: str) -> str:
    return f"sqlite:///{data_dir / (service + '.db')}"
