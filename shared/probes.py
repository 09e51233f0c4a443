"""The metrics port of a relay or worker: Prometheus `/metrics`, and the probes `/healthz`
(liveness) and `/readyz` (readiness) that Kubernetes asks on the same port.

* `/healthz`: 200 while every background loop of the process runs and comes back to its stop
  event in time (shared/runtime.py's `Loops.health`); 503 naming the loop that ended or hangs.
  It does not look at the broker or the database: a process waiting for them is alive.
* `/readyz`: 200 when every check passes (the broker answers, the database answers), 503 with
  the failing check named, in the same JSON as the HTTP services' `/readyz` (shared/web.py);
  503 "starting" until the process has registered its checks.
"""
from __future__ import annotations

import json
import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from shared import metrics
from shared.runtime import Loops

log = logging.getLogger(__name__)
Check = Callable[[], None]
Report = dict[str, Any]  # the JSON body of a probe's answer


class ProcessProbes:
    """What the probes report: the process's loops and its readiness checks (set once the
    process has built them; until then it is starting)."""

    def __init__(self, loops: Loops | None = None,
                 checks: Iterable[tuple[str, Check]] | None = None):
        self.loops = loops
        self.checks: list[tuple[str, Check]] | None = list(checks) if checks is not None \
            else None

    def ready_when(self, checks: Iterable[tuple[str, Check]]) -> None:
        self.checks = list(checks)

    def liveness(self) -> tuple[int, Report]:
        if self.loops is None:
            return 200, {"status": "ok", "loops": {}}
        ok, states = self.loops.health()
        return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "loops": states}

    def readiness(self) -> tuple[int, Report]:
        if self.checks is None:
            return 503, {"status": "unavailable", "checks": {"process": "starting"}}
        results: dict[str, str] = {}
        ok = True
        for name, check in self.checks:
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                results[name], ok = f"unavailable: {type(exc).__name__}", False
        return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": results}


def wsgi_app(probes: ProcessProbes) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            status, body = probes.liveness() if path == "/healthz" else probes.readiness()
            payload = json.dumps(body).encode()
            start_response(f"{status} {'OK' if status == 200 else 'Service Unavailable'}",
                           [("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload)))])
            return [payload]
        if path in ("/metrics", "/"):
            payload, content_type = metrics.render()
            start_response("200 OK", [("Content-Type", content_type),
                                      ("Content-Length", str(len(payload)))])
            return [payload]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics, /healthz, /readyz\n"]
    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes come often: no access log
        pass


def start_probe_server(port: int, host: str, probes: ProcessProbes) -> WSGIServer:
    """Serve /metrics, /healthz and /readyz on `port` from a daemon thread (an IPv4 or IPv6
    `host`: 0.0.0.0 or :: in a container)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]

    class ProbeServer(_Server):
        address_family = family

    server = make_server(host, port, wsgi_app(probes), ProbeServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
