"""Case creation at the stand-in partner systems: one case per idempotency key, the failure
mode switched through any process in effect for the next request, and a new case at a
working system stored in one statement."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import event

from services.partner_sandbox import store
from services.partner_sandbox.app import create_app
from services.partner_sandbox.systems import DESTINATION, SYSTEMS

BODIES = {
    "welfare": {"client": {"given_name": "Zyxtrelda", "family_name": "Quorvanek"},
                "programme": "mbe", "topic": "orientation_counselling",
                "client_reference": "9b0f4a52-3a0e-4c5e-9d7e-1f2a3b4c5d6e"},
    "jobcenter": {"dokumentart": "UEBERGABE_SGB2", "version": "1.0",
                  "anliegen": "SGB2_ERSTANTRAG",
                  "referenz": {"externe_referenz": "f4ac3200-fb99-42e6-94db-ff52b1c3e070"},
                  "antragsteller": {"vorname": "Olena", "nachname": "Kovalenko",
                                    "geburtsdatum": "1987-03-14"}},
    "registration": {"service": "first_registration", "unit": "first_registration",
                     "client_reference": "92b9c224-630a-413e-900c-17e2c3892591",
                     "persons": [{"given_names": "Olena", "family_name": "Kovalenko",
                                  "birth_date": "1987-03-14", "nationality": "UA"}]},
    "wohnungsamt": {"destinationId": DESTINATION["destinationId"], "serviceType": "wbs",
                    "externalReference": "8fbf2d45-6acd-49dd-a997-898f6726136a"},
}
REFERENCE = {"welfare": "case_id", "jobcenter": "vorgangsnummer",
             "registration": "booking_reference", "wohnungsamt": "submissionId"}


@pytest.fixture
def worker_processes(sandbox_app):
    """A second sandbox app on the same database (its own engine and pool), as a second
    gunicorn worker process has: the first is sandbox_app."""
    other = create_app(sandbox_app.extensions["sandbox_settings"])
    other.config["TESTING"] = True
    yield sandbox_app, other
    other.extensions["sandbox_engine"].dispose()


def post_case(app, partner: str, key: str | None, body=None):
    given = app.extensions["sandbox_settings"].partner_credentials[partner]
    headers = SYSTEMS[partner].credential_headers(given)
    if key is not None:
        headers["Idempotency-Key"] = key
    return app.test_client().post(f"/sandbox/{partner}{SYSTEMS[partner].path}",
                                  json=BODIES[partner] if body is None else body,
                                  headers=headers)


def put_behaviour(app, partner: str, mode: str, delay_seconds: float = 0.0):
    given = app.extensions["sandbox_settings"].partner_credentials[partner]
    answer = app.test_client().put(f"/sandbox/{partner}/behaviour",
                                   json={"mode": mode, "delay_seconds": delay_seconds},
                                   headers=SYSTEMS[partner].credential_headers(given))
    assert answer.status_code == 200, answer.get_json()


class Statements:
    """The SQL statements an engine sends (SQLite's BEGIN IMMEDIATE apart)."""

    def __init__(self, engine):
        self.sent: list[str] = []
        event.listen(engine, "before_cursor_execute", self.note)

    def note(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):
            self.sent.append(statement.split(None, 1)[0])


@pytest.mark.parametrize("partner", sorted(SYSTEMS))
def test_a_new_case_at_a_working_partner_system_takes_one_statement(sandbox_app, partner):
    sent = Statements(sandbox_app.extensions["sandbox_engine"]).sent
    created = post_case(sandbox_app, partner, "first")
    assert created.status_code == 201, created.get_json()
    assert sent == ["INSERT"]  # the behaviour is read by the INSERT itself
    sent.clear()
    again = post_case(sandbox_app, partner, "first")
    assert again.status_code == 200, again.get_json()
    assert again.get_json()[REFERENCE[partner]] == created.get_json()[REFERENCE[partner]]
    assert len(sent) <= 4, sent  # a repeat takes the long way: behaviour, then the key


def test_the_same_key_gives_the_same_case_and_counts_each_arrival(sandbox_app):
    answers = [post_case(sandbox_app, "registration", "k1") for _ in range(3)]
    assert [a.status_code for a in answers] == [201, 200, 200]
    assert len({a.get_json()["booking_reference"] for a in answers}) == 1
    assert answers[0].get_json()["appointment"] == answers[2].get_json()["appointment"]
    assert answers[2].get_json()["created"] is False
    [case] = store.find_cases(sandbox_app.extensions["sandbox_engine"], "registration")
    assert case["posts"] == 3
    assert post_case(sandbox_app, "registration", "k2").status_code == 201


def test_a_behaviour_switched_through_one_worker_holds_for_the_next_request_in_another(
        worker_processes):
    one, other = worker_processes
    engine = one.extensions["sandbox_engine"]
    assert post_case(other, "welfare", "before").status_code == 201
    put_behaviour(one, "welfare", "fail")
    assert post_case(other, "welfare", "down").status_code == 503
    assert post_case(other, "jobcenter", "elsewhere").status_code == 201  # only welfare fails
    put_behaviour(one, "welfare", "timeout", 0.05)
    assert post_case(other, "welfare", "lost").status_code == 504
    assert [c["idempotency_key"] for c in store.find_cases(engine, "welfare")
            ] == ["lost", "before"]  # stored, only the answer was lost
    put_behaviour(one, "welfare", "slow", 0.3)
    began = time.monotonic()
    assert post_case(other, "welfare", "slow").status_code == 201
    assert time.monotonic() - began >= 0.3
    put_behaviour(one, "welfare", "ok")
    retried = post_case(other, "welfare", "lost")
    assert retried.status_code == 200 and retried.get_json()["created"] is False
    assert post_case(other, "welfare", "after").status_code == 201


def test_a_system_that_is_down_refuses_before_reading_the_request(sandbox_app):
    put_behaviour(sandbox_app, "jobcenter", "fail")
    assert post_case(sandbox_app, "jobcenter", None).status_code == 503
    assert post_case(sandbox_app, "jobcenter", "k", {"referenz": {}}).status_code == 503
    put_behaviour(sandbox_app, "jobcenter", "ok")
    assert post_case(sandbox_app, "jobcenter", None).status_code == 400
    refused = post_case(sandbox_app, "jobcenter", "k", {"referenz": {}})
    assert refused.status_code == 422
    assert set(refused.get_json()["errors"]) == {"antragsteller", "anliegen", "referenz"}
    assert store.find_cases(sandbox_app.extensions["sandbox_engine"]) == []


def test_an_announced_submission_is_answered_even_while_the_system_times_out(sandbox_app):
    put_behaviour(sandbox_app, "wohnungsamt", "timeout", 5)
    began = time.monotonic()
    announced = post_case(sandbox_app, "wohnungsamt", "a1")
    assert announced.status_code == 201, announced.get_json()
    assert time.monotonic() - began < 5  # the timeout is played on the submission's PUT
    [case] = store.find_cases(sandbox_app.extensions["sandbox_engine"], "wohnungsamt")
    assert case["status"] == "announced"
    assert announced.get_json()["submissionId"] == case["reference"]
