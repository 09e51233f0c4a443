"""Every partner channel under failure, against the sandbox systems served over real HTTP.

Each test runs once per channel with a system (welfare REST, Jobcenter handover document,
registration appointment, FIT-Connect secure submission). The adapter's clock is simulated,
so "down for ten minutes" takes seconds; the partner calls, timeouts and encryption are real.
What must hold on every channel: exactly one case per referral at the partner, nothing lost,
and the bus message acked as soon as the pending case is recorded, so no message waits
unacked on a partner.
"""
from __future__ import annotations

import copy
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.serving import make_server

from sqlalchemy import select

from services.partner_adapter import repository, tables
from services.partner_adapter.case_opener import CaseOpener
from services.partner_adapter.partners import gateways
from services.partner_sandbox import store
from services.partner_sandbox.app import create_app as sandbox_app
from shared.bus.delivery import Verdict, deliver
from shared.db import migrate
from shared.events.envelope import new_envelope
from shared.partners import DIRECTORY
from tests.component.test_partner_cases import REQUEST, cases, outbox_types
from tests.conftest import SMOKE_INTAKE

CHANNELS = sorted(code for code, p in DIRECTORY.items() if p.has_system)
SERVICES = {"welfare": ("orientation_counselling", "mbe"), "jobcenter": ("living_costs", "sgb2"),
            "registration": ("address_registration", "first_registration"),
            "wohnungsamt": ("housing", "wbs")}
HOUSEHOLD = [{"relation": "child", "birth_date": "2019-05-01"}]


class SimulatedClock:
    def __init__(self):
        self.now = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def sandbox(settings):
    """The stand-in partner systems on a free port; yields (base URL, their database)."""
    s = replace(settings.for_service("partner_sandbox"), sandbox_auto_accept_seconds=None)
    migrate("partner_sandbox", s.database_url)
    app = sandbox_app(s)
    # werkzeug's threaded server stops its loop before its socket closes (waitress's close()
    # pulls the sockets from under a running select, and a request still sleeping in a
    # failure mode could answer on a descriptor the next test reuses)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}/sandbox"
    # a FIT-Connect destination makes its key pair on first use: not inside a timed test
    gateways(base, s.partner_credentials)["wohnungsamt"].destination()
    yield base, app.extensions["sandbox_engine"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def clock():
    return SimulatedClock()


@pytest.fixture
def adapter_deps(adapter_deps, clock):
    """The adapter on the simulated clock throughout: a pending case stamped by the wall clock
    would not be due on a simulated clock that is behind it."""
    return replace(adapter_deps, clock=clock)


def opener_for(adapter_deps, sandbox, clock, settings, read_timeout: float | None = None):
    base, _ = sandbox
    directory = {code: replace(p, read_timeout=read_timeout or p.read_timeout)
                 for code, p in DIRECTORY.items()}
    # each partner's own poll interval (the test settings shorten it for the live network)
    deps = replace(adapter_deps,
                   settings=replace(adapter_deps.settings, partner_poll_seconds=None))
    opener = CaseOpener(deps,
                        gateways(base, settings.partner_credentials, directory), threads=2)
    return opener


def request_case(adapter_deps, partner: str) -> str:
    """The bus message asking for a case; it is acked at once, whatever the partner does."""
    rid = str(uuid.uuid4())
    need, service = SERVICES[partner]
    data = {"referral_id": rid, "intake_id": str(uuid.uuid4()), "intake_reference": "LT-2026-X",
            "need": need, "partner": partner, "service": service, "routing_reason": "rule",
            "status": "requested", "version": 1, "requested_at": "2026-11-21T09:00:00+00:00",
            "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
            "person": copy.deepcopy(SMOKE_INTAKE["person"]), "household": HOUSEHOLD}
    body = new_envelope("referral.requested", 1, "referral", f"referral/{rid}", data).to_json()
    outcome = deliver(body, REQUEST, adapter_deps.uow)
    assert outcome.verdict is Verdict.ACK, outcome
    return rid


def run_for(opener: CaseOpener, clock: SimulatedClock, seconds: float, step: float = 5.0):
    with ThreadPoolExecutor(2) as pool:
        elapsed = 0.0
        while elapsed < seconds:
            opener.open_due(pool)
            clock.advance(step)
            elapsed += step
        opener.open_due(pool)


def partner_cases_for(engine, partner: str, referral_id: str) -> list[dict]:
    return store.find_cases(engine, partner, referral_id)


def case_of(adapter_deps, referral_id: str):
    [case] = [c for c in cases(adapter_deps) if str(c.referral_id) == referral_id]
    return case


def assert_one_case(adapter_deps, sandbox, partner: str, referral_id: str, posts: int = 1):
    ours = case_of(adapter_deps, referral_id)
    [theirs] = partner_cases_for(sandbox[1], partner, referral_id)
    assert ours.status == "opened", (ours.status, ours.last_error)
    assert ours.partner_case_ref == theirs["reference"]
    assert theirs["status"] == "new"  # announced submissions count only once submitted
    assert theirs["posts"] == posts, theirs


@pytest.mark.parametrize("partner", CHANNELS)
def test_a_5xx_is_retried_with_the_same_key_and_gives_one_case(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    store.set_behaviour(sandbox[1], partner, "fail", 0, None)
    rid = request_case(adapter_deps, partner)
    run_for(opener, clock, 0)  # one round: the first attempt
    first = case_of(adapter_deps, rid)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "503" in first.last_error
    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    run_for(opener, clock, 15)
    assert_one_case(adapter_deps, sandbox, partner, rid)
    assert case_of(adapter_deps, rid).attempts == 1


@pytest.mark.parametrize("partner", CHANNELS)
def test_an_answer_lost_after_the_partner_created_the_case_is_looked_up_not_sent_again(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings, read_timeout=0.5)
    store.set_behaviour(sandbox[1], partner, "timeout", 1.5, None)  # stores, then too slow
    rid = request_case(adapter_deps, partner)
    run_for(opener, clock, 0)  # one round: the first attempt
    lost = case_of(adapter_deps, rid)
    assert lost.status == "pending" and lost.answer_lost, lost.last_error
    [stored] = partner_cases_for(sandbox[1], partner, rid)
    assert stored["status"] == "new"  # the partner has the case; we do not know its number
    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    run_for(opener, clock, 15)
    assert_one_case(adapter_deps, sandbox, partner, rid)  # found by lookup: still one post


@pytest.mark.parametrize("partner", CHANNELS)
def test_slow_answers_within_the_timeout_open_exactly_one_case(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings, read_timeout=3)
    store.set_behaviour(sandbox[1], partner, "slow", 1.0, None)
    rids = [request_case(adapter_deps, partner) for _ in range(3)]
    run_for(opener, clock, 3, step=1)  # a few rounds: the rate limit may spread the calls
    for rid in rids:
        assert_one_case(adapter_deps, sandbox, partner, rid)


@pytest.mark.parametrize("partner", CHANNELS)
def test_a_partner_down_for_ten_minutes_loses_nothing_and_opens_each_case_once(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    store.set_behaviour(sandbox[1], partner, "fail", 0, None)
    rids = [request_case(adapter_deps, partner) for _ in range(4)]
    run_for(opener, clock, 600)
    waiting = [case_of(adapter_deps, rid) for rid in rids]
    assert all(c.status == "pending" for c in waiting), [c.last_error for c in waiting]
    assert all(c.attempts < DIRECTORY[partner].max_attempts for c in waiting)
    # growing delays: 2 s, 10 s, 1 min, 5 min, so a fifth attempt at most within 10 minutes
    assert all(c.attempts <= 5 for c in waiting), [c.attempts for c in waiting]
    # and the open circuit let through one trial call per opening, not one per due case
    config = DIRECTORY[partner]
    assert opener.guards.breaker.state(partner, clock()) in ("open", "half-open")
    assert sum(c.attempts for c in waiting) <= \
        config.breaker_failures + 600 / config.breaker_open_seconds
    assert not any(partner_cases_for(sandbox[1], partner, rid) for rid in rids)

    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    run_for(opener, clock, 3600, step=30)
    for rid in rids:
        assert_one_case(adapter_deps, sandbox, partner, rid)
    with adapter_deps.session_factory() as s:
        assert all(repository.disclosures_of(s, rid) for rid in rids)


def test_a_partner_with_only_a_read_api_is_polled_and_each_answer_recorded_once(
        adapter_deps, sandbox, clock, settings):
    config = DIRECTORY["registration"]
    assert config.inbound == "poll"
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    rid = request_case(adapter_deps, "registration")
    run_for(opener, clock, 0)
    case = case_of(adapter_deps, rid)
    assert case.status == "opened" and case.next_poll_at == clock() + timedelta(
        seconds=config.poll_seconds)
    run_for(opener, clock, config.poll_seconds * 2, step=30)
    assert outbox_types(adapter_deps) == ["partner_case.opened"]  # nothing changed yet

    store.change_status(sandbox[1], "registration", case.partner_case_ref, "accepted")
    assert store.due_callbacks(sandbox[1]) == []  # this partner never calls back
    run_for(opener, clock, config.poll_seconds * 3, step=30)  # read several times
    assert case_of(adapter_deps, rid).partner_status == "accepted"
    assert outbox_types(adapter_deps) == ["partner_case.opened",
                                          "partner_case.status_reported"]

    store.change_status(sandbox[1], "registration", case.partner_case_ref, "completed")
    run_for(opener, clock, config.poll_seconds + 30, step=30)
    done = case_of(adapter_deps, rid)
    assert done.partner_status == "completed" and done.next_poll_at is None  # final: stop
    with adapter_deps.session_factory() as s:
        reported = [json.loads(r.body)["data"] for r in s.execute(select(tables.outbox)).all()
                    if r.event_type == "partner_case.status_reported"]
    assert [(r["status"], r["outcome"]) for r in reported] == [
        ("accepted", None), ("completed", "appointment_kept")]


def test_a_partner_that_cannot_be_read_is_read_again_later(adapter_deps, sandbox, clock,
                                                            settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    rid = request_case(adapter_deps, "registration")
    run_for(opener, clock, 0)
    ref = case_of(adapter_deps, rid).partner_case_ref
    store.change_status(sandbox[1], "registration", ref, "accepted")
    store.set_behaviour(sandbox[1], "registration", "fail", 0, None)
    run_for(opener, clock, DIRECTORY["registration"].poll_seconds + 30, step=30)
    assert case_of(adapter_deps, rid).partner_status is None
    assert case_of(adapter_deps, rid).next_poll_at > clock()  # still being read
    store.set_behaviour(sandbox[1], "registration", "ok", 0, None)
    run_for(opener, clock, DIRECTORY["registration"].poll_seconds + 30, step=30)
    assert case_of(adapter_deps, rid).partner_status == "accepted"


def test_a_status_that_comes_back_later_is_recorded_again(adapter_deps, sandbox, clock,
                                                          settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    rid = request_case(adapter_deps, "registration")
    run_for(opener, clock, 0)
    ref = case_of(adapter_deps, rid).partner_case_ref
    interval = DIRECTORY["registration"].poll_seconds
    for status in ("accepted", "on-hold", "accepted"):
        store.change_status(sandbox[1], "registration", ref, status)
        run_for(opener, clock, interval + 30, step=30)
        assert case_of(adapter_deps, rid).partner_status == status
    assert outbox_types(adapter_deps).count("partner_case.status_reported") == 3


def test_a_malformed_appointment_does_not_stop_the_case_from_opening():
    from services.partner_adapter.partners.base import checked_appointment

    good = {"starts_at": "2026-11-23T09:15:00+01:00", "location": "Bürgerdienste",
            "bring": []}
    assert checked_appointment(good) == good
    for bad in ({"starts_at": "2026-11-23T09:15:00", "location": "x"},  # no offset
                {**good, "room": "3"}, "tomorrow", {"location": "x"}):
        assert checked_appointment(bad) is None
