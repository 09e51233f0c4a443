"""deploy/prometheus: the alert rules and the scrape configuration are valid for Prometheus
(promtool), fire on the series they are meant for (promtool test rules), read only metrics
that exist, and every alert names a runbook that exists."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, in_ci

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"


def promtool() -> str:
    """promtool, from Debian's prometheus package (deploy/ensure-services.sh installs it).
    Under CI a missing promtool fails the test: the rules would go unchecked."""
    found = shutil.which("promtool")
    if found is None:
        if in_ci():
            pytest.fail("promtool is missing: apt-get install -y --no-install-recommends "
                        "prometheus (deploy/ensure-services.sh)")
        pytest.skip("promtool is missing (apt-get install prometheus)")
    return found


def run(*args: str) -> str:
    done = subprocess.run([promtool(), *args], cwd=PROMETHEUS, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules():
    assert "SUCCESS" in run("check", "rules", "alerts.yml")


def test_promtool_accepts_the_configuration_and_it_loads_the_rules():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    assert "SUCCESS" in run("check", "config", "prometheus.yml")


def test_the_rules_fire_on_the_series_they_are_meant_for():
    """alerts.test.yml: a target down, a queue without consumers, parked messages, the broker
    and a database unreachable, restarts, a process kind gone."""
    tested = set(re.findall(r"alertname: (\w+)", (PROMETHEUS / "alerts.test.yml").read_text()))
    assert {"LotseTargetDown", "LotseQueueWithoutConsumers", "LotseParkedMessages",
            "LotseBrokerUnreachable", "LotseDatabaseUnreachable"} <= tested
    assert "SUCCESS" in run("test", "rules", "alerts.test.yml")


def test_every_alert_has_a_runbook_that_exists():
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names)) and len(names) >= 10
    for rule in alerts():
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), rule["alert"]
        url = annotations.get("runbook_url", "")
        assert url.startswith("docs/runbooks/") and url.endswith(".md"), rule["alert"]
        runbook = REPO / url
        assert runbook.is_file(), f"{rule['alert']}: no runbook {url}"
        text = runbook.read_text()
        assert rule["alert"] in text, f"{url} does not name the alert {rule['alert']}"
        for part in ("## What it means", "## How to look", "## How to fix"):
            assert part in text, f"{url}: missing '{part}'"
    index = (REPO / "docs/runbooks/README.md").read_text()
    for rule in alerts():
        assert rule["annotations"]["runbook_url"].removeprefix("docs/runbooks/") in index


def test_the_rules_read_only_metrics_lotse_exports():
    import services.supervisor  # noqa: F401  (registers lotse stack's metrics)
    from shared import metrics

    families = {f.name for f in text_string_to_metric_families(metrics.render()[0].decode())}
    known = {f + suffix for f in families for suffix in ("", "_total", "_bucket", "_sum",
                                                         "_count")}
    used = {m for rule in alerts() for m in re.findall(r"\blotse_[a-z_]+", rule["expr"])}
    assert used and used <= known, used - known
