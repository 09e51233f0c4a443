"""The sandbox's case creation on PostgreSQL: a new case is one statement that commits itself
(no BEGIN and COMMIT round trips), and the same key posted at once by many callers, through
the one-statement path or the long one, still makes one case."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from sqlalchemy import event

from services.partner_sandbox import store
from services.partner_sandbox.app import create_app
from services.partner_sandbox.systems import SYSTEMS
from tests.conftest import embedded_settings
from tests.integration.conftest import fresh_database

pytestmark = pytest.mark.integration

CASE = {"client": {"given_name": "Zyxtrelda", "family_name": "Quorvanek"},
        "programme": "mbe", "topic": "orientation_counselling",
        "client_reference": "9b0f4a52-3a0e-4c5e-9d7e-1f2a3b4c5d6e"}


@pytest.fixture
def sandbox_apps(tmp_path):
    """Two sandbox apps (two engines, as two gunicorn workers) on one PostgreSQL database."""
    with fresh_database("lotse_sandbox", services=("partner_sandbox",)) as url:
        settings = replace(embedded_settings(tmp_path), database_url=url
                           ).for_service("partner_sandbox")
        apps = (create_app(settings), create_app(settings))
        yield apps
        for app in apps:
            app.extensions["sandbox_engine"].dispose()


def headers(app, key: str | None = None) -> dict:
    given = app.extensions["sandbox_settings"].partner_credentials["welfare"]
    return {**SYSTEMS["welfare"].credential_headers(given),
            **({"Idempotency-Key": key} if key else {})}


def post_case(app, key: str):
    return app.test_client().post("/sandbox/welfare/api/cases", json=CASE,
                                  headers=headers(app, key))


def test_a_new_case_is_one_statement_committed_by_itself(sandbox_apps):
    app = sandbox_apps[0]
    post_case(app, "warm-up")  # the connection is made, the dialect initialised
    sent: list[tuple[str, bool]] = []

    @event.listens_for(app.extensions["sandbox_engine"], "before_cursor_execute")
    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement.split(None, 1)[0], conn.connection.dbapi_connection.autocommit))

    assert post_case(app, "k1").status_code == 201
    assert sent == [("INSERT", True)]


@pytest.mark.parametrize("mode", ["ok", "slow"])  # slow (no delay): the long way
def test_the_same_key_posted_at_once_makes_one_case(sandbox_apps, mode):
    one, other = sandbox_apps
    answer = one.test_client().put("/sandbox/welfare/behaviour", headers=headers(one),
                                   json={"mode": mode, "delay_seconds": 0})
    assert answer.status_code == 200, answer.get_json()
    start = threading.Barrier(8)

    def post(i: int):
        start.wait(10)
        return post_case((one, other)[i % 2], f"at-once-{mode}")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.get_json()["case_id"] for a in answers}) == 1
    [case] = store.find_cases(one.extensions["sandbox_engine"], "welfare")
    assert case["posts"] == 8


def test_a_behaviour_switched_through_one_worker_holds_at_once_in_another(sandbox_apps):
    one, other = sandbox_apps
    assert post_case(other, "before").status_code == 201
    for mode, status in (("fail", 503), ("ok", 201)):
        answer = one.test_client().put("/sandbox/welfare/behaviour", headers=headers(one),
                                       json={"mode": mode})
        assert answer.status_code == 200, answer.get_json()
        assert post_case(other, f"after-{mode}").status_code == status
