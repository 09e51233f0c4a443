"""deploy/prometheus and deploy/grafana stay in step with docker-compose.yml and the metrics."""
from __future__ import annotations

import json
import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from tests.conftest import REPO


def scrape_targets() -> set[str]:
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    return {target.split(":")[0] for job in config["scrape_configs"]
            for group in job["static_configs"] for target in group["targets"]}


def test_prometheus_scrapes_every_lotse_process_of_docker_compose():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    targets = scrape_targets()
    for name, service in compose["services"].items():
        command = service.get("command") or []
        if command[:2] in (["lotse", "relay"], ["lotse", "worker"]):
            assert service["environment"].get("LOTSE_METRICS_PORT"), name
            assert name in targets, f"{name}: add it to deploy/prometheus/prometheus.yml"
        elif command[:2] == ["lotse", "serve"]:
            aliases = service.get("networks", {}).get("default", {}).get("aliases", [])
            assert targets & {name, *aliases}, f"{name}: add it to prometheus.yml"


def test_the_dashboard_is_grafana_json_using_only_metrics_lotse_has():
    dashboard = json.loads((REPO / "deploy/grafana/lotse-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["panels"]
    families = {f.name for f in text_string_to_metric_families(metrics.render()[0].decode())}
    known = {f + suffix for f in families for suffix in ("", "_total", "_bucket", "_sum",
                                                         "_count")}
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\blotse_[a-z_]+", e)}
    assert used and used <= known, used - known
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
