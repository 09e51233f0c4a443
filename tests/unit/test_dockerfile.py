"""The image (no Docker engine here, so read as text): a build stage makes the wheel, the
runtime stage installs only that wheel and runs as a non-root user, and its HEALTHCHECK
command answers as it should (run here against a local server)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import REPO, free_port


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: continuations joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        keyword, _, rest = whole.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(text):
        if keyword == "FROM":
            result.append([])
        result[-1].append((keyword, rest))
    return result


DOCKERFILE = (REPO / "Dockerfile").read_text()
STAGES = stages(DOCKERFILE)
RUNTIME = STAGES[-1]


def args_of(stage, keyword: str) -> list[str]:
    return [rest for k, rest in stage if k == keyword]


def test_a_build_stage_makes_the_wheel_and_the_runtime_installs_only_it():
    assert len(STAGES) >= 2, "multi-stage: build the wheel in one stage, install it in another"
    build_name = STAGES[0][0][1].split()[-1]
    assert any("pip wheel" in run for run in args_of(STAGES[0], "RUN"))
    copies = args_of(RUNTIME, "COPY")
    assert copies and all(c.startswith(f"--from={build_name} ") for c in copies), \
        "the runtime stage copies nothing but the build stage's wheel"
    assert any(".whl" in run and "pip install" in run for run in args_of(RUNTIME, "RUN"))
    assert RUNTIME[0][1].split()[0].endswith("-slim")


def test_the_runtime_runs_as_user_10001_who_owns_the_broker_definitions_directory():
    [user] = args_of(RUNTIME, "USER")
    assert user.split(":")[0] == "10001"  # numeric: Kubernetes' runAsNonRoot can check it
    runs = " ".join(args_of(RUNTIME, "RUN"))
    assert "--uid 10001" in runs
    # docker-compose's broker-definitions service writes there as that user
    assert "install -d -o lotse -g lotse /etc/lotse-broker" in runs


def test_the_build_context_is_only_what_the_build_stage_copies():
    ignore = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert ignore[0] == "*", "everything is left out (.env, var/, .git) unless let in"
    let_in = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = {word.rstrip("/") for copy in args_of(STAGES[0], "COPY")
               for word in copy.split()[:-1] if not word.startswith("--")}
    assert sources and sources <= let_in
    assert not let_in & {".env", "var", "deploy", "tests", ".git"}


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def health_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def healthcheck(env: dict[str, str]) -> int:
    [spec] = args_of(RUNTIME, "HEALTHCHECK")
    command = json.loads(spec[spec.index("CMD") + 3:].strip())  # the exec form
    assert command[0] == "python"
    clean = {k: v for k, v in os.environ.items()
             if k not in ("LOTSE_HEALTH_URL", "LOTSE_METRICS_PORT")}
    return subprocess.run([sys.executable, *command[1:]], env={**clean, **env},
                          capture_output=True, timeout=60).returncode


def test_the_healthcheck_passes_when_the_process_answers(health_port):
    assert healthcheck({"LOTSE_HEALTH_URL": f"http://127.0.0.1:{health_port}/healthz"}) == 0
    # a relay or worker: /healthz on its metrics port
    assert healthcheck({"LOTSE_METRICS_PORT": str(health_port)}) == 0


def test_the_healthcheck_fails_when_the_process_is_unwell_or_gone(health_port):
    assert healthcheck({"LOTSE_HEALTH_URL": f"http://127.0.0.1:{health_port}/sick"}) != 0
    assert healthcheck({"LOTSE_HEALTH_URL": f"http://127.0.0.1:{free_port()}/healthz"}) != 0


def test_the_healthcheck_can_be_turned_off_for_commands_without_http():
    assert healthcheck({"LOTSE_HEALTH_URL": "none"}) == 0
