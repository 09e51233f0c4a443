"""Component fixtures: one service at a time on SQLite in a temp dir, no broker, no threads."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.intake.accounts import save_account
from services.intake.app import create_app as intake_app
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.partner_adapter.bootstrap import bootstrap as adapter_bootstrap
from services.referral.bootstrap import bootstrap as referral_bootstrap
from services.reporting.bootstrap import bootstrap as reporting_bootstrap
from shared.db import migrate


def migrated(service: str, settings, bootstrap):
    s = settings.for_service(service)
    migrate(service, s.database_url)
    return bootstrap(s)


@pytest.fixture
def intake_deps(settings):
    return migrated("intake", settings, intake_bootstrap)


@pytest.fixture
def referral_deps(settings):
    return migrated("referral", settings, referral_bootstrap)


@pytest.fixture
def adapter_deps(settings):
    return migrated("partner_adapter", settings, adapter_bootstrap)


@pytest.fixture
def reporting_deps(settings):
    return migrated("reporting", settings, reporting_bootstrap)


@pytest.fixture
def reporting_app(settings, reporting_deps):
    from services.reporting.app import create_app as reporting_app

    app = reporting_app(settings.for_service("reporting"), reporting_deps)
    app.config["TESTING"] = True
    return app


def bearer(app, principal) -> dict:
    """Headers with a token for this user, as the intake service issues them."""
    from shared.auth import issue_token

    return {"Authorization": "Bearer " + issue_token(app.secret_key, principal)}


@pytest.fixture
def intake_client(settings, intake_deps):
    with intake_deps.session_factory() as s:
        save_account(s, "staff", "pw-staff", "staff")
        save_account(s, "welfare", "pw-welfare", "partner", "welfare")
        s.commit()
    app = intake_app(settings.for_service("intake"), intake_deps)
    app.config["TESTING"] = True
    return app.test_client()


def token(client, username: str, password: str) -> dict:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['access_token']}"}


@pytest.fixture
def sandbox_app(settings):
    """The stand-in partner systems as a Flask app on their own SQLite file."""
    from services.partner_sandbox.app import create_app as sandbox_app

    s = settings.for_service("partner_sandbox")
    migrate("partner_sandbox", s.database_url)
    app = sandbox_app(s)
    app.config["TESTING"] = True
    yield app
    app.extensions["sandbox_engine"].dispose()


@pytest.fixture
def lotse_command_env(tmp_path, monkeypatch):
    """The environment of a `lotse` command in this test: its own data dir (embedded, no
    server URLs), every service migrated. Returns Settings.from_env, to take a service's."""
    from services.cli import migrate_all
    from shared.config import Settings

    for name in ("LOTSE_BROKER_URL", "LOTSE_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOTSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LOTSE_LOG_FORMAT", "text")
    migrate_all(Settings.from_env("intake"))
    return Settings.from_env


def post_twice_at_once(app, headers: dict, body: dict, monkeypatch) -> tuple:
    """Two POST /api/v1/intakes with the same headers (and Idempotency-Key) at once: the
    first pauses inside its transaction, key claimed and intake written, while the second
    is sent. Returns both answers, first and second."""
    import threading

    from services.intake import idempotency

    claimed, go = threading.Event(), threading.Event()
    attach = idempotency.attach

    def first_pauses(session, key, intake_id):
        attach(session, key, intake_id)
        if threading.current_thread().name == "first":
            claimed.set()
            go.wait(10)

    monkeypatch.setattr(idempotency, "attach", first_pauses)
    answers: dict = {}

    def send(name: str) -> None:
        answers[name] = app.test_client().post("/api/v1/intakes", json=body, headers=headers)

    first = threading.Thread(target=send, args=("first",), name="first")
    second = threading.Thread(target=send, args=("second",), name="second")
    try:
        first.start()
        assert claimed.wait(10)
        second.start()
        second.join(0.5)  # a chance to reach the database while the first holds the key
    finally:
        go.set()
        first.join(10)
        second.join(10)
    return answers["first"], answers["second"]


# The walk-in queue (test_walk_in_*.py)
QUEUE_NINE = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # 9:00 in Dortmund


class MovableClock:
    """A clock a test moves on (the walk-in queue's waiting minutes)."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, minutes: int) -> None:
        self.at += timedelta(minutes=minutes)


@pytest.fixture
def queue_clock(intake_deps):
    intake_deps.clock = MovableClock(QUEUE_NINE)
    return intake_deps.clock


def app_with_accounts(settings, intake_deps, *accounts: tuple):
    """The intake app (TESTING) with these accounts: save_account's arguments each."""
    with intake_deps.session_factory() as s:
        for username, password, role, *more in accounts:
            languages = more.pop() if more and isinstance(more[-1], tuple) else ()
            save_account(s, username, password, role, *more, languages=languages)
        s.commit()
    app = intake_app(settings.for_service("intake"), intake_deps)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def queue_app(settings, intake_deps, queue_clock):
    return app_with_accounts(settings, intake_deps, ("anna", "pw-anna", "staff", ("uk", "ru")),
                             ("ben", "pw-ben", "staff", ("ar",)),
                             ("welfare", "pw-welfare", "partner", "welfare"))


@pytest.fixture
def queue_client(queue_app):
    """The intake app with staff anna (uk, ru), ben (ar) and a welfare partner user, its
    clock at 9:00 (queue_clock)."""
    return queue_app.test_client()


@pytest.fixture
def anna(queue_client):
    return token(queue_client, "anna", "pw-anna")


@pytest.fixture
def ben(queue_client):
    return token(queue_client, "ben", "pw-ben")


def draw_ticket(client, headers, language="uk", topic="housing", site="centre") -> dict:
    """A ticket drawn through the API (201 asserted), as its answer."""
    answer = client.post("/api/v1/queue/tickets", headers=headers,
                         json={"site": site, "language": language, "topic": topic})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


# Inbound referrals (test_inbound_*.py)
@pytest.fixture
def inbound_clock(intake_deps):
    intake_deps.clock = MovableClock(QUEUE_NINE)
    return intake_deps.clock


@pytest.fixture
def inbound_client(settings, intake_deps, inbound_clock):
    """The intake app with staff `anna`, the registration office's user `buerger`, a
    welfare partner user and management's `boss`; its clock at 9:00 (inbound_clock)."""
    return app_with_accounts(settings, intake_deps, ("anna", "pw-anna", "staff"),
                             ("buerger", "pw-buerger", "partner", "registration"),
                             ("welfare", "pw-welfare", "partner", "welfare"),
                             ("boss", "pw-boss", "management")).test_client()


@pytest.fixture
def clerk(inbound_client):
    return token(inbound_client, "anna", "pw-anna")


@pytest.fixture
def registration(inbound_client):
    return token(inbound_client, "buerger", "pw-buerger")


@pytest.fixture
def welfare(inbound_client):
    return token(inbound_client, "welfare", "pw-welfare")
