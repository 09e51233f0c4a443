"""docker-compose.yml's default path is a production one: every secret required, no published
value, and the stand-in partner systems only with `--profile demo`."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import yaml

from services import processes
from services.ops.readings import ServiceMetrics
from shared.config import (COMPOSE_SECRETS, PUBLISHED_DEMO_SECRETS, REPORTING_KEY,
                           secret_names)
from tests.conftest import REPO

COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(:[?-])?([^}]*)\}")


def interpolated(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation: `${VAR:?message}` fails without VAR, `${VAR:-x}` falls back."""
    def one(match):
        name, operator, rest = match.groups()
        if env.get(name):
            return env[name]
        assert operator != ":?", f"compose refuses to start: {name} {rest}"
        return rest if operator == ":-" else ""
    return REFERENCE.sub(one, value)


def test_every_secret_is_required_and_none_has_a_default():
    environment = COMPOSE["x-lotse-env"]
    for name in secret_names():
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", environment[name]), name
    defaults = {m.group(1) for m in REFERENCE.finditer(COMPOSE_TEXT) if m.group(2) == ":-"}
    assert not defaults & set(secret_names())
    assert all(name.endswith("_PREVIOUS") for name in defaults if "SECRET" in name)
    assert not [value for value in PUBLISHED_DEMO_SECRETS if value in COMPOSE_TEXT]


def test_with_the_secrets_set_every_service_s_environment_resolves():
    env = {name: f"value-of-{name}"
           for name in (*secret_names(), REPORTING_KEY, *COMPOSE_SECRETS)}
    for name, service in COMPOSE["services"].items():
        for key, value in (service.get("environment") or {}).items():
            resolved = interpolated(str(value), env)
            if key in env:
                assert resolved == env[key], (name, key)


def test_only_the_reporting_processes_get_the_reporting_key_and_it_is_required():
    assert REPORTING_KEY not in COMPOSE["x-lotse-env"]
    assert re.fullmatch(rf"\$\{{{REPORTING_KEY}:\?[^}}]+\}}",
                        COMPOSE["x-reporting-key"][REPORTING_KEY])
    holders = {name for name, service in COMPOSE["services"].items()
               if REPORTING_KEY in (service.get("environment") or {})}
    assert holders == {"reporting", "relay-reporting", "worker-reporting"}


def test_the_stand_in_partner_systems_run_only_in_the_demo_profile():
    services = COMPOSE["services"]
    demo = {name for name, s in services.items() if "demo" in s.get("profiles", [])}
    sandbox = {name for name, s in services.items()
               if "partner_sandbox" in (s.get("command") or [])}
    assert sandbox and sandbox <= demo
    default_path = {name: s for name, s in services.items() if not s.get("profiles")}
    for name, service in default_path.items():
        assert not set(service.get("depends_on") or {}) & demo, name
        environment = service.get("environment") or {}
        assert "LOTSE_SANDBOX_AUTO_ACCEPT" not in environment, name
        assert "LOTSE_DEMO" not in environment, name


def test_the_database_and_broker_passwords_are_required_too():
    """Their users' passwords come from the environment: the old fixed `lotse` is gone."""
    assert "lotse:lotse@" not in COMPOSE_TEXT
    env = {name: f"value-of-{name}" for name in (*secret_names(), *COMPOSE_SECRETS)}
    lotse = COMPOSE["x-lotse-env"]
    assert interpolated(lotse["LOTSE_DATABASE_URL"], env).startswith(
        "postgresql+psycopg://lotse:value-of-LOTSE_DB_PASSWORD@")
    assert interpolated(lotse["LOTSE_BROKER_URL"], env).startswith(
        "amqp://lotse:value-of-LOTSE_BROKER_PASSWORD@")
    services = COMPOSE["services"]
    assert interpolated(services["postgres"]["environment"]["POSTGRES_PASSWORD"], env) == \
        env["LOTSE_DB_PASSWORD"]
    definitions = services["broker-definitions"]
    assert interpolated(definitions["environment"]["LOTSE_BROKER_PASSWORD"], env) == \
        env["LOTSE_BROKER_PASSWORD"]
    assert "--out" in definitions["command"]
    assert services["rabbitmq"]["depends_on"]["broker-definitions"]["condition"] == \
        "service_completed_successfully"
    for name in COMPOSE_SECRETS:
        assert not re.search(rf"\$\{{{name}:-", COMPOSE_TEXT), name


def test_only_the_gateway_is_trusted_to_name_the_client():
    """Intake throttles logins per client address: behind the gateway it must read the
    gateway's X-Forwarded-For, and no other peer's (the bridge's own address is not it)."""
    import ipaddress

    trusted = interpolated(COMPOSE["x-lotse-env"]["LOTSE_TRUSTED_PROXIES"], {})
    gateway = COMPOSE["services"]["gateway"]["networks"]["default"]["ipv4_address"]
    assert trusted == interpolated(gateway, {})
    [subnet] = COMPOSE["networks"]["default"]["ipam"]["config"]
    network = ipaddress.ip_network(interpolated(subnet["subnet"], {}))
    assert ipaddress.ip_address(trusted) in network
    assert ipaddress.ip_address(trusted) != next(network.hosts())  # the bridge's address


def test_the_console_reads_every_relays_and_the_case_openers_metrics():
    """The ops server and worker show outbox backlogs and partner circuits from the /metrics
    of the processes services/processes.py names (LOTSE_OPS_METRICS_URLS): each a container
    of this file serving them on that port to the other containers."""
    services = COMPOSE["services"]
    expected = {f"{kind}-{service}" for kind, service in processes.console_sources()}
    for name in ("ops", "worker-ops"):
        assert services[name]["command"][1:3] in (["serve", "ops"], ["worker", "ops"])
        urls = ServiceMetrics.from_environ(services[name]["environment"]).urls
        parts = [urlsplit(url) for url in urls]
        assert {p.hostname for p in parts} == expected, name
        assert len(urls) == len(expected)
        for part in parts:
            source = services[part.hostname]
            assert source["command"][1:3] == part.hostname.split("-", 1), part.hostname
            assert (part.scheme, part.path) == ("http", "/metrics")
            assert str(part.port) == source["environment"]["LOTSE_METRICS_PORT"]
            assert source["environment"]["LOTSE_METRICS_HOST"] == "0.0.0.0"
