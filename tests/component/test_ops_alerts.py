"""Alerts: raised when a reading crosses its threshold, posted to the webhook once, cleared
when the reading falls back."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from services.ops import console
from services.ops.domain import Alert


class Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_alerts_are_raised_notified_once_and_cleared(settings):
    from shared.db import migrate
    from services.ops.bootstrap import bootstrap

    ops = settings.for_service("ops")
    migrate("ops", ops.database_url)
    engine = bootstrap(ops).engine
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        parked = Alert("dead_letters", "dead_letters", "3 parked message(s)", "3")
        raised = console.raise_and_clear(engine, [parked])
        console.notify(engine, url, raised)
        assert [a["key"] for a in console.active_alerts(engine)] == ["dead_letters"]
        assert console.active_alerts(engine)[0]["notified"]
        # still there: not raised (nor posted) again, but its figure follows the reading
        again = console.raise_and_clear(engine, [Alert("dead_letters", "dead_letters",
                                                       "4 parked message(s)", "4")])
        assert again == []
        assert console.active_alerts(engine)[0]["value"] == "4"
        console.raise_and_clear(engine, [])
        assert console.active_alerts(engine) == []
        assert [h["alerts"][0]["key"] for h in Hook.received] == ["dead_letters"]
    finally:
        server.shutdown()
        server.server_close()
