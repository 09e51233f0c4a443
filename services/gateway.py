"""A small reverse proxy for the distributed stack: one address, paths routed like embedded."""
from __future__ import annotations

import os

import requests
from werkzeug.wrappers import Request, Response

from services import registry
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
        target = self.targets[registry.route_for(request.path)]
        # The browser's Host goes through, so services build links and check redirects
        # against the public address, not the internal one.
        headers = {k: v for k, v in request.headers if k.lower() not in HOP_BY_HOP}
        try:
            upstream = self.http.request(request.method, target + request.full_path.rstrip("?"),
                                         headers=headers, data=request.get_data(),
                                         allow_redirects=False, timeout=(3, 60))
        except requests.RequestException as exc:
            return Response(f"upstream unavailable: {exc}", 502)(environ, start_response)
        response = Response(upstream.content, upstream.status_code,
                            [(k, v) for k, v in upstream.raw.headers.items()
                             if k.lower() not in HOP_BY_HOP])
        return response(environ, start_response)


def create_app() -> Gateway:
    return Gateway(upstreams())
