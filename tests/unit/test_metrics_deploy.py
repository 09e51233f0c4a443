"""deploy/prometheus and deploy/grafana stay in step with docker-compose.yml and the metrics."""
from __future__ import annotations

import json
import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics
from tests.conftest import REPO


def scrape_targets() -> set[str]:
    """Host names Prometheus scrapes: static targets and the names it resolves by DNS (each
    name gives every replica of a scaled compose service)."""
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    jobs = config["scrape_configs"]
    return ({target.split(":")[0] for job in jobs for group in job.get("static_configs", [])
             for target in group["targets"]}
            | {name for job in jobs for sd in job.get("dns_sd_configs", [])
               for name in sd["names"]})


def test_lotse_processes_are_found_by_dns_so_scaled_replicas_are_scraped():
    config = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        if job["job_name"].startswith("lotse-"):
            assert "static_configs" not in job and job["dns_sd_configs"], job["job_name"]
            assert all(sd["type"] == "A" and sd["port"] for sd in job["dns_sd_configs"])
            assert any(r.get("target_label") == "process" for r in job["relabel_configs"])


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
