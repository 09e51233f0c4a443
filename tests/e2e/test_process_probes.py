"""A relay's and a worker's probes on their metrics port, as real processes whose broker or
database is unreachable: alive (/healthz 200: their loops wait for it), not ready (/readyz
503 naming what is missing), and ready once it is there. Needs neither RabbitMQ nor
PostgreSQL: the unreachable ones are closed ports."""
from __future__ import annotations

import pytest
import requests

from services.cli import migrate_all
from shared.config import Settings, generated_secrets
from tests.conftest import free_port, wait_until
from tests.e2e.processes import lotse, stop

pytestmark = pytest.mark.e2e


def get(url: str):
    try:
        r = requests.get(url, timeout=10)
        return r.status_code, r.json()
    except (requests.RequestException, ValueError):
        return None, None


def started(tmp, service_kind: str, env: dict):
    port = free_port()
    proc = lotse([*service_kind.split(), "--metrics-port", str(port)], env,
                 tmp / f"{service_kind.replace(' ', '-')}.log")
    return proc, f"http://127.0.0.1:{port}"


def base_env(tmp) -> dict:
    return {"LOTSE_DATA_DIR": str(tmp), "LOTSE_LOG_FORMAT": "text", **generated_secrets(),
            "LOTSE_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}//"}


@pytest.mark.timeout(120)
def test_a_worker_without_its_broker_is_alive_but_not_ready(tmp_path):
    env = base_env(tmp_path)
    migrate_all(Settings.from_env("intake", env))  # SQLite in tmp_path: the database is there
    proc, base = started(tmp_path, "worker intake", env)
    try:
        status = wait_until(lambda: get(f"{base}/readyz")[0] == 503 and get(f"{base}/readyz"),
                            timeout=60, interval=0.3, message="the worker's /readyz")
        assert status[1] == {"status": "unavailable",
                             "checks": {"database": "ok",
                                        "bus": status[1]["checks"]["bus"]}}
        assert status[1]["checks"]["bus"].startswith("unavailable: ")
        code, body = get(f"{base}/healthz")
        assert code == 200 and body["status"] == "ok"
        assert set(body["loops"]) == {"consumer-intake", "retention"}
        assert proc.poll() is None
    finally:
        stop(proc)


@pytest.mark.timeout(120)
def test_a_relay_without_its_database_and_broker_is_alive_and_names_both(tmp_path):
    env = {**base_env(tmp_path),
           "LOTSE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none"}
    proc, base = started(tmp_path, "relay intake", env)
    try:
        code, body = wait_until(lambda: get(f"{base}/readyz")[0] and get(f"{base}/readyz"),
                                timeout=60, interval=0.3, message="the relay's /readyz")
        assert code == 503 and body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("unavailable: ")
        assert body["checks"]["bus"].startswith("unavailable: ")
        code, body = get(f"{base}/healthz")
        assert code == 200 and body == {"status": "ok", "loops": {"relay-intake": "ok"}}
        assert requests.get(f"{base}/metrics", timeout=10).status_code == 200
    finally:
        stop(proc)
