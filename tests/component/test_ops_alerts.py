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


# --- the console with the broker or a database out of reach --------------------------------

def down_settings(settings):
    """The console's settings with RabbitMQ (AMQP and its management API) out of reach: a
    port on this machine that nothing listens on."""
    from dataclasses import replace

    from tests.conftest import free_port

    port = free_port()
    return replace(settings.for_service("ops"),
                   broker_url=f"amqp://lotse:lotse@127.0.0.1:{port}//",
                   management_url=f"http://127.0.0.1:{port}")


def operator_client(ops_settings, engines=None):
    from services.cli import migrate_all
    from services.ops.app import console_runtime, create_app
    from services.ops.bootstrap import bootstrap
    from shared.auth import Principal, issue_token

    migrate_all(ops_settings)
    app = create_app(ops_settings, bootstrap(ops_settings),
                     console_runtime(ops_settings, engines=engines))
    app.config["TESTING"] = True
    bearer = issue_token(app.secret_key, Principal("olga", "operator"))
    return app.test_client(), {"Authorization": f"Bearer {bearer}"}


def test_with_the_broker_down_the_overview_answers_with_a_broker_unreachable_alert(settings):
    client, auth = operator_client(down_settings(settings))
    r = client.get("/api/v1/ops/overview", headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    body = r.get_json()
    [alert] = [a for a in body["alerts"] if a["kind"] == "broker_unreachable"]
    assert alert["message"].startswith("broker unreachable")
    assert "broker" in body["backlogs"]["unreachable"]
    # the rest of the picture is still there: topology without figures, the backlogs (an
    # outbox backlog no relay has reported yet is unknown, not 0)
    assert body["topology"]["services"] and "pending" in body["backlogs"]["outboxes"]["intake"]
    assert body["backlogs"]["overdue_referrals"] == 0


def test_an_unreachable_database_is_an_alert_in_the_overview_not_a_500(settings):
    from shared.db import make_engine
    from tests.conftest import free_port

    nowhere = make_engine(f"postgresql+psycopg://lotse@127.0.0.1:{free_port()}/lotse")
    client, auth = operator_client(down_settings(settings), engines={"referral": nowhere})
    r = client.get("/api/v1/ops/overview", headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    body = r.get_json()
    kinds = {a["key"]: a["kind"] for a in body["alerts"]}
    assert kinds["database_unreachable:referral"] == "database_unreachable"
    # the console counts overdue referrals from the events it journalled, in its own database
    assert body["backlogs"]["overdue_referrals"] == 0


def test_with_the_consoles_own_database_down_the_overview_still_names_what_is_down(settings):
    """No recorded alerts can be read, but the live ones are shown."""
    from dataclasses import replace

    from services.cli import migrate_all
    from services.ops.app import console_runtime, create_app
    from services.ops.bootstrap import bootstrap
    from shared.auth import Principal, issue_token
    from tests.conftest import free_port

    ops = down_settings(settings)
    migrate_all(ops)
    nowhere = replace(ops, database_url=f"postgresql+psycopg://lotse@127.0.0.1:{free_port()}/x")
    app = create_app(nowhere, bootstrap(nowhere), console_runtime(ops))
    app.config["TESTING"] = True
    bearer = issue_token(app.secret_key, Principal("olga", "operator"))
    r = app.test_client().get("/api/v1/ops/overview", headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    body = r.get_json()
    assert {"broker_unreachable", "database_unreachable:ops"} <= {a["key"] for a in body["alerts"]}
    assert body["backlogs"]["parked"] is None  # unknown, not "0"


def test_the_ops_page_names_the_alert_kinds_in_the_operators_language(settings):
    client, auth = operator_client(down_settings(settings))
    page = client.get("/ops", headers={**auth, "Accept-Language": "de"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Broker nicht erreichbar" in text and "Datenbank nicht erreichbar" in text


class DownFigures:
    """Queue figures from a broker that is down (or, once `up`, answers)."""

    def __init__(self):
        self.up = False

    def survey(self):
        return ({}, None) if self.up else ({}, "ConnectionRefusedError: [Errno 111] refused")

    def read(self):
        return self.survey()[0]


class DownLot:
    """Parking queues on a broker that is down (or, once `up`, empty)."""

    def __init__(self):
        self.up = False

    def collect(self, store, limit=200):
        if not self.up:
            raise ConnectionRefusedError(111, "Connection refused")
        return 0

    def requeue(self, message):
        raise AssertionError("nothing to replay")


def test_the_console_loop_raises_broker_down_and_its_own_failure_and_clears_them(settings):
    """Today the loop's first failing step (collecting parked messages from a broker that is
    down) skips the alert check altogether: no alert at all while RabbitMQ is down."""
    from prometheus_client import REGISTRY

    from services.ops.bootstrap import bootstrap
    from services.ops.console import ConsoleLoop
    from services.ops.domain import Thresholds
    from services.ops.readings import Databases
    from shared.db import migrate

    ops = settings.for_service("ops")
    for service in ("intake", "referral", "partner_adapter", "ops"):
        migrate(service, settings.for_service(service).database_url)
    engine = bootstrap(ops).engine
    figures, lot = DownFigures(), DownLot()
    loop = ConsoleLoop(engine, ops, lot, figures, Databases(ops), Thresholds())
    failures = REGISTRY.get_sample_value("lotse_ops_console_loop_failures_total",
                                         {"step": "dead_letters"}) or 0

    loop.iterate(check_alerts=True)
    active = {a["key"]: a for a in console.active_alerts(engine)}
    assert set(active) == {"broker_unreachable", "console_loop"}
    assert "dead_letters" in active["console_loop"]["message"]
    assert REGISTRY.get_sample_value("lotse_ops_dependency_up",
                                     {"dependency": "broker", "service": ""}) == 0
    assert REGISTRY.get_sample_value("lotse_ops_dependency_up",
                                     {"dependency": "database", "service": "referral"}) == 1
    assert REGISTRY.get_sample_value("lotse_ops_console_loop_failures_total",
                                     {"step": "dead_letters"}) == failures + 1

    figures.up = lot.up = True
    loop.iterate(check_alerts=True)
    assert console.active_alerts(engine) == []
    assert REGISTRY.get_sample_value("lotse_ops_dependency_up",
                                     {"dependency": "broker", "service": ""}) == 1
    assert REGISTRY.get_sample_value(
        "lotse_ops_console_loop_last_success_timestamp_seconds") > 0
