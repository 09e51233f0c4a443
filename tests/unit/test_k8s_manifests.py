"""deploy/k8s: both overlays render with `kubectl kustomize`, every object validates against
the Kubernetes schemas (kubernetes-validate) or, for KEDA and the Prometheus Operator, against
the CRD schemas kept in deploy/k8s/schemas; and the manifests say what issue 17 asks of them:
a Deployment per process, the gateway's routing table in the Ingress, probes and a non-root,
read-only container everywhere, secrets by reference only in production, KEDA on each
worker's queues, monitors that find scaled replicas."""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import json
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from services import processes, registry
from services.cli import cmd_secrets
from services.ops import readings
from shared import partners as partner_defaults, retention as retention_defaults
from shared.bus.topology import build_topology
from shared.config import COMPOSE_SECRETS, DEFAULT_PORTS, REPORTING_KEY, secret_names
from tests.conftest import REPO, in_ci

K8S = REPO / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
# The Kubernetes API the objects must be valid for (kubernetes-validate ships its schemas).
KUBERNETES_VERSION = "1.31.0"
OVERLAYS = ("demo", "production")
UID = 10001
SECRET = "lotse-secrets"
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_podmonitor_v1.json",
}


def need(condition: bool, why: str) -> None:
    """A missing tool fails under CI (ensure-services installs it) and skips elsewhere."""
    if condition:
        return
    if in_ci():
        pytest.fail(why)
    pytest.skip(why)


def k8s_name(service: str) -> str:
    return service.replace("_", "-")


def _load_generator():
    """deploy/k8s/generate.py, under a name of its own (it is no package)."""
    spec = importlib.util.spec_from_file_location("lotse_k8s_generate", K8S / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


@lru_cache(maxsize=None)
def rendered(overlay: str) -> tuple[dict, ...]:
    """`kubectl kustomize` of an overlay, as its README says to apply it. The demo gets a
    secrets.env from `lotse secrets` first, in a copy (the real one is git-ignored)."""
    need(shutil.which("kubectl") is not None,
         "kubectl is not installed (deploy/ensure-services.sh)")
    source = K8S / "overlays" / overlay
    if overlay == "demo":
        workdir = Path(_tmp()) / "k8s"
        shutil.copytree(K8S, workdir, ignore=shutil.ignore_patterns("secrets.env"))
        source = workdir / "overlays" / "demo"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # `lotse secrets`, in this process (faster)
            cmd_secrets(None)
        (source / "secrets.env").write_text(out.getvalue())
    done = subprocess.run(["kubectl", "kustomize", str(source)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, f"kubectl kustomize {overlay}: {done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


_TMP: list = []


def _tmp() -> str:
    import tempfile
    _TMP.append(tempfile.TemporaryDirectory(prefix="lotse-k8s-"))
    return _TMP[-1].name


def of_kind(docs, kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def named(docs, kind: str, name: str) -> dict:
    matches = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def is_lotse(doc: dict) -> bool:
    return doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "lotse"


def workloads(docs) -> list[dict]:
    return of_kind(docs, "Deployment") + of_kind(docs, "Job")


def lotse_container(doc: dict) -> dict:
    (container,) = [c for c in doc["spec"]["template"]["spec"]["containers"]
                    if c["name"] == "lotse"]
    return container


def config(docs) -> dict:
    (cm,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith(
        "lotse-config")]
    return cm["data"]


# --- generated files -------------------------------------------------------------------------

def test_generated_files_are_current():
    stale = [str(path.relative_to(K8S)) for path, text in generate.outputs().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    assert not stale, f"run `.venv/bin/python deploy/k8s/generate.py`: {stale} out of date"


def test_config_maps_carry_the_package_defaults():
    """The mounted partner directory and retention schedule are the package's defaults
    (shared/defaults), and the processes are pointed at them."""
    for overlay in OVERLAYS:
        docs = rendered(overlay)
        (files,) = [d for d in of_kind(docs, "ConfigMap")
                    if d["metadata"]["name"].startswith("lotse-files")]
        assert files["data"]["partners.json"] == partner_defaults.DEFAULT_FILE.read_text(
            encoding="utf-8")
        assert files["data"]["retention.json"] == retention_defaults.DEFAULT_FILE.read_text(
            encoding="utf-8")
        env = config(docs)
        assert env["LOTSE_PARTNERS_FILE"] == "/etc/lotse/partners.json"
        assert env["LOTSE_RETENTION_FILE"] == "/etc/lotse/retention.json"
        assert env["LOTSE_DATA_DIR"] == "/tmp/lotse"
        for doc in filter(is_lotse, workloads(docs)):
            pod = doc["spec"]["template"]["spec"]
            volumes = {v["name"]: v for v in pod["volumes"]}
            mounts = {m["mountPath"]: m["name"] for m in lotse_container(doc)["volumeMounts"]}
            assert volumes[mounts["/etc/lotse"]]["configMap"]["name"] == \
                files["metadata"]["name"], doc["metadata"]["name"]
            assert "emptyDir" in volumes[mounts["/tmp"]], doc["metadata"]["name"]


# --- schemas ---------------------------------------------------------------------------------

def strict(schema):
    """A CRD schema that also refuses unknown fields (the API server would prune them
    silently: a typo in a ScaledObject would just not scale)."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if ("properties" in out and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_its_schema(overlay, monkeypatch):
    try:
        import kubernetes_validate
        import kubernetes_validate.utils
    except ImportError:
        need(False, "kubernetes-validate is not installed (pip install -e '.[test]')")
    import jsonschema

    # it reads its large _definitions.json again for every object: once is enough
    monkeypatch.setattr(kubernetes_validate.utils, "schema_contents",
                        lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents))

    docs = rendered(overlay)
    assert docs
    errors = []
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if key in CRD_SCHEMAS:
            schema = strict(json.loads((SCHEMAS / CRD_SCHEMAS[key]).read_text()))
            for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                errors.append(f"{where}: {'/'.join(map(str, error.path))}: {error.message}")
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{where}: {'/'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{where}: no schema ({exc}): add its CRD to deploy/k8s/schemas")
    assert not errors, "\n".join(errors)


def test_crd_schemas_know_their_kinds():
    """The kept CRD schemas do reject a wrong object (they are not empty)."""
    import jsonschema

    for (api_version, kind), file in CRD_SCHEMAS.items():
        schema = strict(json.loads((SCHEMAS / file).read_text()))
        good = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"},
                "spec": {}}
        wrong = copy.deepcopy(good)
        wrong["spec"] = {"no_such_field": 1}
        assert not jsonschema.Draft7Validator(schema).is_valid({**good, "kind": "Other"})
        assert not jsonschema.Draft7Validator(schema).is_valid(wrong), file


# --- processes -------------------------------------------------------------------------------

def expected_commands(overlay: str) -> set[tuple[str, ...]]:
    servers = [s for s in DEFAULT_PORTS if overlay == "demo" or s != "partner_sandbox"]
    bus = [*registry.BUS_SERVICES, *(["partner_sandbox"] if overlay == "demo" else [])]
    return ({("lotse", "serve", s) for s in servers}
            | {("lotse", "relay", s) for s in registry.BUS_SERVICES}
            | {("lotse", "worker", s) for s in bus})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_deployment_per_process_and_a_migration_job(overlay):
    docs = rendered(overlay)
    commands = {tuple(lotse_container(d)["command"][:3])
                for d in of_kind(docs, "Deployment") if is_lotse(d)}
    assert commands == expected_commands(overlay)
    jobs = {d["metadata"]["name"]: lotse_container(d)["command"] for d in of_kind(docs, "Job")}
    assert jobs["lotse-migrate"] == ["lotse", "migrate"]
    assert ("lotse-seed-demo" in jobs) == (overlay == "demo")
    for doc in of_kind(docs, "Deployment"):
        if is_lotse(doc) and lotse_container(doc)["command"][1] == "serve":
            service = lotse_container(doc)["command"][2]
            svc = named(docs, "Service", k8s_name(service))
            assert svc["spec"]["ports"][0]["port"] == DEFAULT_PORTS[service]
            assert svc["spec"]["selector"].items() <= \
                doc["spec"]["template"]["metadata"]["labels"].items()
    assert not [d for d in docs if "sandbox" in d["metadata"]["name"]] or overlay == "demo"


def probe_target(probe: dict) -> tuple[str, object]:
    return probe["httpGet"]["path"], probe["httpGet"]["port"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_as_non_root_with_probes_and_limits(overlay):
    docs = rendered(overlay)
    for doc in of_kind(docs, "Deployment"):
        name = doc["metadata"]["name"]
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        for c in pod["containers"] + pod.get("initContainers", []):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= c["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= c["resources"]["limits"].keys(), name
        for c in pod["containers"]:
            assert "livenessProbe" in c and "readinessProbe" in c, f"{name}/{c['name']}"
        if not is_lotse(doc):
            continue  # the demo's own RabbitMQ and PostgreSQL (their images' users)
        c = lotse_container(doc)
        kind, service = c["command"][1], c["command"][2]
        live, ready = probe_target(c["livenessProbe"]), probe_target(c["readinessProbe"])
        if kind == "serve":
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports["http"] == DEFAULT_PORTS[service], name
            if service == "gateway":  # its /healthz is intake's, proxied: its own
                assert live == ready == ("/gateway/healthz", "http")
            else:
                assert (live, ready) == (("/healthz", "http"), ("/readyz", "http")), name
        else:  # relays and workers: the probes on their metrics port
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env["LOTSE_METRICS_PORT"] == "9100" and env["LOTSE_METRICS_HOST"] == "0.0.0.0"
            assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 9100}
            assert (live, ready) == (("/healthz", "metrics"), ("/readyz", "metrics")), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_lotse_process_runs_as_the_images_user_on_a_read_only_root(overlay):
    """Deployments and Jobs alike: uid 10001, nothing written but /tmp (an emptyDir)."""
    for doc in filter(is_lotse, workloads(rendered(overlay))):
        name, pod = doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == UID, name
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == UID, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
            assert "LOTSE_DEMO" not in {e["name"] for e in c.get("env", [])}, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_and_autoscalers(overlay):
    docs = rendered(overlay)
    pdbs = of_kind(docs, "PodDisruptionBudget")
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for doc in filter(is_lotse, of_kind(docs, "Deployment")):
        name, pod_labels = doc["metadata"]["name"], doc["spec"]["template"]["metadata"]["labels"]
        assert [p for p in pdbs if p["spec"]["selector"]["matchLabels"].items()
                <= pod_labels.items()], f"{name} has no PodDisruptionBudget"
        if doc["metadata"]["labels"]["app.kubernetes.io/component"] == "server" \
                and name != "partner-sandbox":
            assert name in hpas, f"{name} has no HorizontalPodAutoscaler"
            assert "replicas" not in doc["spec"], f"{name}: its HPA owns the count"


# --- ingress ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingress_routes_like_the_gateway(overlay):
    """The Ingress's paths are the gateway's table (services/registry.py ROUTES), for the
    services the overlay runs; everything else goes to the gateway, which sends it to the
    default service and keeps /internal/ from the public."""
    docs = rendered(overlay)
    (ingress,) = of_kind(docs, "Ingress")
    (rule,) = ingress["spec"]["rules"]
    paths = {(p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
             for p in rule["http"]["paths"]}
    assert {p["pathType"] for p in rule["http"]["paths"]} == {"Prefix"}
    deployed = set(DEFAULT_PORTS) - ({"partner_sandbox"} if overlay == "production" else set())
    table = {(prefix, k8s_name(service), DEFAULT_PORTS[service])
             for prefix, service in registry.ROUTES if service in deployed}
    assert paths == table | {("/", "gateway", DEFAULT_PORTS["gateway"])}
    assert len(rule["http"]["paths"]) == len(paths)
    assert registry.route_for("/internal/revocations") == registry.DEFAULT_ROUTE == "intake"
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    for _, name, port in paths:
        assert port in [p["port"] for p in services[name]["spec"]["ports"]], name
    if overlay == "production":
        assert "/sandbox" not in {p[0] for p in paths}
        assert rule["host"] and ingress["spec"]["tls"]


# --- secrets ---------------------------------------------------------------------------------

SECRET_VARS = {*generate.URL_SECRETS, *secret_names()}


def test_production_has_no_literal_secret_values():
    docs = rendered("production")
    assert not [d for d in docs if d["kind"] == "Secret"], "the operator creates lotse-secrets"
    assert "LOTSE_DEMO" not in config(docs)
    for doc in workloads(docs):
        for c in doc["spec"]["template"]["spec"]["containers"]:
            env = {e["name"]: e for e in c.get("env", [])}
            assert SECRET_VARS <= env.keys(), doc["metadata"]["name"]
            for e in env.values():
                if e["name"] in SECRET_VARS or any(
                        word in e["name"] for word in ("SECRET", "PASSWORD", "TOKEN")):
                    assert "value" not in e, f"{doc['metadata']['name']}: {e['name']}"
                    ref = e["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == SECRET and ref["key"] == e["name"]
                    assert ref.get("optional", False) == e["name"].endswith("_PREVIOUS")
            assert not [f for f in c.get("envFrom", []) if "secretRef" in f]
    for key, value in config(docs).items():
        assert "SECRET" not in key and "PASSWORD" not in key and "@" not in value, key


def test_demo_secrets_come_from_lotse_secrets_not_from_the_repository():
    assert "secrets.env" in (K8S / "overlays" / "demo" / ".gitignore").read_text().split()
    if shutil.which("git") and (REPO / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "deploy/k8s"], cwd=REPO,
                                 capture_output=True, text=True, timeout=30).stdout.split()
        assert not [f for f in tracked if f.endswith("secrets.env")]
    docs = rendered("demo")
    (secret,) = of_kind(docs, "Secret")
    assert set(secret["data"]) == {*secret_names(), REPORTING_KEY, *COMPOSE_SECRETS}
    assert "LOTSE_DEMO" not in config(docs)  # every secret is set: no generated ones
    for doc in filter(is_lotse, workloads(docs)):
        env = {e["name"]: e for e in lotse_container(doc)["env"]}
        for name in secret_names():
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
        assert "$(LOTSE_BROKER_PASSWORD)" in env["LOTSE_BROKER_URL"]["value"]
        assert "$(LOTSE_DB_PASSWORD)" in env["LOTSE_DATABASE_URL"]["value"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_reporting_processes_hold_the_reporting_key(overlay):
    holders = {doc["metadata"]["name"] for doc in filter(is_lotse, workloads(rendered(overlay)))
               if REPORTING_KEY in {e["name"] for e in lotse_container(doc)["env"]}}
    assert holders == {"reporting", "relay-reporting", "worker-reporting"}


# --- KEDA, monitoring, network ---------------------------------------------------------------

@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keda_scales_each_worker_on_its_queues(overlay):
    docs = rendered(overlay)
    topology = build_topology("lotse", registry.SUBSCRIPTIONS, (1, 5, 30, 120, 600))
    queues = {q["name"] for q in topology.queue_specs()}
    scaled = {s["spec"]["scaleTargetRef"]["name"]: s for s in of_kind(docs, "ScaledObject")}
    assert set(scaled) == {f"worker-{k8s_name(s)}" for s in registry.BUS_SERVICES}
    for service in registry.BUS_SERVICES:
        so = scaled[f"worker-{k8s_name(service)}"]
        worker = named(docs, "Deployment", f"worker-{k8s_name(service)}")
        assert "replicas" not in worker["spec"], "KEDA owns the worker's count"
        assert so["spec"]["minReplicaCount"] >= 1  # its background loops must run
        triggers = so["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"rabbitmq"}
        names = {t["metadata"]["queueName"] for t in triggers}
        assert names <= queues
        assert names == {topology.queue(s) for s in topology.for_service(service)}
        env = {e["name"] for e in lotse_container(worker)["env"]}
        assert {t["metadata"]["hostFromEnv"] for t in triggers} <= env


def selects(selector: dict, labels: dict) -> bool:
    ok = selector.get("matchLabels", {}).items() <= labels.items()
    for e in selector.get("matchExpressions", []):
        inside = labels.get(e["key"]) in e["values"]
        ok = ok and (inside if e["operator"] == "In" else not inside)
    return ok


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_prometheus_finds_every_process(overlay):
    """Monitors select by label, so every replica a HPA or KEDA starts is scraped."""
    docs = rendered(overlay)

    services = of_kind(docs, "ServiceMonitor")
    pods = of_kind(docs, "PodMonitor")
    for doc in filter(is_lotse, of_kind(docs, "Deployment")):
        command = lotse_container(doc)["command"]
        if command[1] == "serve":
            svc = named(docs, "Service", k8s_name(command[2]))
            monitors = [m for m in services
                        if selects(m["spec"]["selector"], svc["metadata"]["labels"])]
            assert len(monitors) == 1, svc["metadata"]["name"]
            (endpoint,) = monitors[0]["spec"]["endpoints"]
            assert endpoint["path"] == ("/gateway/metrics" if command[2] == "gateway"
                                        else "/metrics")
        else:
            labels = doc["spec"]["template"]["metadata"]["labels"]
            monitors = [m for m in pods if selects(m["spec"]["selector"], labels)]
            assert len(monitors) == 1, doc["metadata"]["name"]
            assert monitors[0]["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    # the alert rules name each target's kind by its `process` label
    endpoints = [e for m in services for e in m["spec"]["endpoints"]] + \
        [e for m in pods for e in m["spec"]["podMetricsEndpoints"]]
    for endpoint in endpoints:
        assert any(r.get("targetLabel") == "process" for r in endpoint.get("relabelings", ())), \
            endpoint


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default(overlay):
    docs = rendered(overlay)
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {} and deny["ingress"] == [] and deny["egress"] == []
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"}
    # the public reaches only the servers, through the ingress controller's namespace
    public = {name for name, spec in policies.items()
              for rule in spec.get("ingress", []) for peer in rule.get("from", [])
              if peer.get("namespaceSelector", {}).get("matchLabels", {}).get(
                  "kubernetes.io/metadata.name") == generate.INGRESS_CONTROLLER_NAMESPACE}
    servers = {f"{k8s_name(s)}-ingress" for s in DEFAULT_PORTS
               if overlay == "demo" or s != "partner_sandbox"}
    assert public == servers
    # only the partner adapter reaches out beyond the runtime services and DNS
    https = [name for name, spec in policies.items() for rule in spec.get("egress", [])
             if {"protocol": "TCP", "port": 443} in rule.get("ports", [])]
    assert https == ["partner-adapter-to-partners"]


def pod_labels(docs, name: str) -> dict:
    return named(docs, "Deployment", name)["spec"]["template"]["metadata"]["labels"]


def allowed(docs, direction: str, pod: dict, port: tuple, *, peer: dict | None = None,
            namespace: str | None = None) -> bool:
    """Whether a NetworkPolicy selecting the pod (labels) lets it talk to a peer pod of the
    namespace (labels) or to another namespace, on the port (its number or name)."""
    key = {"egress": "to", "ingress": "from"}[direction]
    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        if not selects(spec["podSelector"], pod):
            continue
        for rule in spec.get(direction, []):
            if not any(p["port"] in port for p in rule.get("ports", [])):
                continue
            for other in rule.get(key, []):
                if peer is not None and "namespaceSelector" not in other and \
                        selects(other.get("podSelector", {}), peer):
                    return True
                if namespace is not None and "podSelector" not in other and \
                        other["namespaceSelector"]["matchLabels"][
                            "kubernetes.io/metadata.name"] == namespace:
                    return True
    return False


CONSOLE_PODS = ("ops", "worker-ops")  # its server (overview) and worker (alerts)


def test_production_points_the_console_at_prometheus_federate():
    """Relays and workers run as several pods: the console reads the series it parses
    (services/ops/readings.py) from Prometheus, which scrapes them all."""
    docs = rendered("production")
    (url,) = readings.ServiceMetrics.from_environ(config(docs)).urls
    part = urlsplit(url)
    assert part.path == "/federate"
    assert set(parse_qs(part.query)["match[]"]) == set(processes.console_metrics()) == {
        readings.OUTBOX_PENDING, readings.OUTBOX_OLDEST, readings.CIRCUIT_OPEN}
    service, namespace = part.hostname.split(".")[:2]
    assert namespace == generate.MONITORING_NAMESPACE
    for name in CONSOLE_PODS:
        assert allowed(docs, "egress", pod_labels(docs, name), (part.port,),
                       namespace=namespace), name


def test_the_demo_console_reads_the_metrics_ports_without_prometheus():
    """Each address is a Service on the metrics port of a Deployment whose figures the
    console shows (every relay, the partner adapter's worker), reachable from its pods."""
    docs = rendered("demo")
    urls = readings.ServiceMetrics.from_environ(config(docs)).urls
    sources = set()
    for url in urls:
        part = urlsplit(url)
        assert part.path == "/metrics"
        svc = named(docs, "Service", part.hostname)
        (port,) = svc["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (part.port, "metrics")
        (deployment,) = [d for d in filter(is_lotse, of_kind(docs, "Deployment"))
                         if selects({"matchLabels": svc["spec"]["selector"]},
                                    d["spec"]["template"]["metadata"]["labels"])]
        c = lotse_container(deployment)
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": part.port}
        sources.add(tuple(c["command"][1:3]))
        for name in CONSOLE_PODS:
            console, source = pod_labels(docs, name), pod_labels(
                docs, deployment["metadata"]["name"])
            assert allowed(docs, "egress", console, ("metrics", part.port), peer=source)
            assert allowed(docs, "ingress", source, ("metrics", part.port), peer=console)
    assert sources == set(processes.console_sources())
