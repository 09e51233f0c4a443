"""A small reverse proxy for the distributed stack: one address, paths routed like embedded."""
from __future__ import annotations

import os
import time

import requests
from werkzeug.wrappers import Request, Response

from services import registry
from shared import metrics
from shared.config import DEFAULT_PORTS, port_of

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "content-encoding", "content-length"}


def upstreams(environ=None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    return {svc: env.get(f"LOTSE_{svc.upper()}_UPSTREAM", f"http://127.0.0.1:{port_of(svc, env)}")
            for svc in DEFAULT_PORTS if svc != "gateway"}


class Gateway:
    def __init__(self, targets: dict[str, str]):
        self.targets = targets
        self.http = requests.Session()

    def __call__(self, environ, start_response):
        request = Request(environ)
        if request.path == "/gateway/healthz":
            return Response('{"status": "ok"}', 200, mimetype="application/json")(
                environ, start_response)
        if request.path == "/gateway/metrics":  # the gateway's own; /metrics is intake's
            body, content_type = metrics.render()
            return Response(body, 200, content_type=content_type)(environ, start_response)
        if request.path.startswith("/internal/"):  # service-to-service only, never public
            return Response("not found", 404)(environ, start_response)
        started = time.monotonic()
        target = self.targets[registry.route_for(request.path)]
        # The browser's Host goes through, so services build links and check redirects
        # against the public address, not the internal one.
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        # who called us, after whatever the caller claimed: the services trust only the
        # entry the gateway adds (LOTSE_TRUSTED_PROXIES, shared/client_address.py)
        headers["X-Forwarded-For"] = ", ".join(filter(None, (
            request.headers.get("X-Forwarded-For"), request.remote_addr)))
        try:
            upstream = self.http.request(request.method, target + request.full_path.rstrip("?"),
                                         headers=headers, data=request.get_data(),
                                         allow_redirects=False, timeout=(3, 60))
        except requests.RequestException as exc:
            metrics.observe_http("gateway", request.method, 502, time.monotonic() - started)
            return Response(f"upstream unavailable: {exc}", 502)(environ, start_response)
        metrics.observe_http("gateway", request.method, upstream.status_code,
                             time.monotonic() - started)
        response = Response(upstream.content, upstream.status_code,
                            [(k, v) for k, v in upstream.raw.headers.items()
                             if k.lower() not in HOP_BY_HOP])
        return response(environ, start_response)


def create_app() -> Gateway:
    return Gateway(upstreams())
