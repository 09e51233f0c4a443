"""Consent checked again at delivery; withdrawal and erasure notices to every partner that
received data, on every channel, against the sandbox systems served over real HTTP.

The adapter's clock is simulated (see test_partner_channels), so "down for ten minutes" takes
seconds. What must hold: nothing leaves on a withdrawn consent; a partner that received data
is told exactly once, whatever its case's status and however often it was down; a notice
names ids and codes only, never the person.
"""
from __future__ import annotations

import copy
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from services.partner_adapter import handlers, notices, tables
from services.partner_adapter.consumers import SUBSCRIPTIONS
from services.partner_sandbox import notices as sandbox_notices
from services.partner_sandbox import store
from services.partner_sandbox import tables as sandbox_tables
from services.partner_sandbox.systems import NOTICE_FORMATS
from shared import words
from shared.auth import Principal, issue_token
from shared.bus.delivery import Verdict, deliver
from shared.events.envelope import new_envelope
from shared.partners import DIRECTORY
from tests.component.test_partner_cases import REQUEST, outbox_types
from tests.component import test_partner_channels as channels
from tests.component.test_partner_channels import (CHANNELS, HOUSEHOLD, SERVICES, case_of,
                                                   opener_for, partner_cases_for, run_for)
from tests.conftest import SMOKE_INTAKE, wait_until

# the sandbox over HTTP and the simulated clock of the channel tests
sandbox, clock, adapter_deps = channels.sandbox, channels.clock, channels.adapter_deps

WITHDRAWAL = next(s for s in SUBSCRIPTIONS if s.name == "follow_consent_withdrawal")
# partners that receive data on the person's consent (the registration office has a duty)
CONSENT_CHANNELS = sorted(c for c in CHANNELS if not DIRECTORY[c].legal_basis)
PORTAL = sorted(code for code, p in DIRECTORY.items() if not p.has_system
                and not p.legal_basis)[0]
PERSON_VALUES = [v for v in (SMOKE_INTAKE["person"]["given_name"],
                             SMOKE_INTAKE["person"]["family_name"],
                             SMOKE_INTAKE["person"]["birth_date"]) if v]
# the same as the (English) portal page writes them: the birth date as a date, not ISO
PAGE_VALUES = [words.city_date(v, "en") if v == SMOKE_INTAKE["person"]["birth_date"] else v
               for v in PERSON_VALUES]
ANY_FORM = [*PERSON_VALUES, *PAGE_VALUES]


def request_case(deps, partner: str, consent_id: str | None = None,
                 legal_basis: str | None = None) -> str:
    rid = str(uuid.uuid4())
    need, service = SERVICES.get(partner, ("orientation_counselling", "portal"))
    data = {"referral_id": rid, "intake_id": str(uuid.uuid4()), "intake_reference": "LT-2026-X",
            "need": need, "partner": partner, "service": service, "routing_reason": "rule",
            "status": "requested", "version": 1, "requested_at": "2026-11-21T09:00:00+00:00",
            "residence_status": "TEMP_PROTECTION_24", "consent_method": "signed_form",
            "person": copy.deepcopy(SMOKE_INTAKE["person"]), "household": HOUSEHOLD,
            "person_id": str(uuid.uuid4()), "consent_id": consent_id,
            "legal_basis": legal_basis}
    body = new_envelope("referral.requested", 1, "referral", f"referral/{rid}", data).to_json()
    assert deliver(body, REQUEST, deps.uow).verdict is Verdict.ACK
    return rid


def withdraw(deps, consent_id: str, at: str = "2026-11-21T10:00:00+00:00") -> None:
    data = {"consent_id": consent_id, "person_id": str(uuid.uuid4()), "partner": None,
            "withdrawn_at": at, "withdrawn_by": "staff", "reason": None}
    body = new_envelope("consent.withdrawn", 1, "intake", f"consent/{consent_id}",
                        data).to_json()
    outcome = deliver(body, WITHDRAWAL, deps.uow)
    assert outcome.verdict is Verdict.ACK, outcome


def accepted(deps, partner: str, rid: str) -> None:
    """The partner accepted its case (its signed callback, as the API would record it)."""
    case = case_of(deps, rid)
    assert handlers.record_partner_report(partner, {
        "event_id": str(uuid.uuid4()), "case_reference": case.partner_case_ref,
        "client_reference": rid, "status": "accepted", "reason": None}, deps.uow()) == \
        "recorded"


def received(engine, partner: str, ref: str) -> list[dict]:
    return sandbox_notices.notices(engine, partner, ref)


def ours(deps, rid: str) -> list[notices.PartnerNotice]:
    with deps.session_factory() as s:
        return notices.notices_for(s, referral_ids=[rid])


def notice_events(deps) -> list[dict]:
    with deps.session_factory() as s:
        return [json.loads(r.body)["data"] for r in s.execute(select(tables.outbox)).all()
                if r.event_type == "partner_case.notice_sent"]


def assert_told_once(deps, sandbox, partner: str, rid: str, kind: str, deliveries: int = 1):
    ref = case_of(deps, rid).partner_case_ref
    [theirs] = received(sandbox[1], partner, ref)
    assert (theirs["kind"], theirs["deliveries"]) == (kind, deliveries), theirs
    form = NOTICE_FORMATS[partner]
    assert theirs["body"][form.client_reference_field] == rid
    # ids and codes only: nothing else is accepted, nothing of the person is in it
    assert set(theirs["body"]) <= set(form.allowed)
    assert not any(v in json.dumps(theirs["body"]) for v in PERSON_VALUES)
    [notice] = [n for n in ours(deps, rid) if n.kind == kind]
    assert notice.status == "sent", notice.last_error
    assert theirs["idempotency_key"] == notice.idempotency_key
    [event] = [e for e in notice_events(deps) if e["referral_id"] == rid and e["kind"] == kind]
    assert (event["partner"], event["partner_case_ref"]) == (partner, ref)


@pytest.mark.parametrize("partner", CONSENT_CHANNELS)
def test_a_withdrawal_after_acceptance_reaches_the_partner_exactly_once(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, partner, consent)
    other = request_case(adapter_deps, partner, str(uuid.uuid4()))  # another consent
    run_for(opener, clock, 0)
    accepted(adapter_deps, partner, rid)
    withdraw(adapter_deps, consent)
    withdraw(adapter_deps, consent)  # announced again (a new event id): still one notice
    run_for(opener, clock, 30)
    assert_told_once(adapter_deps, sandbox, partner, rid, "consent_withdrawn")
    [n] = ours(adapter_deps, rid)
    assert (n.reason, n.occurred_at) == ("consent_withdrawn",
                                         datetime(2026, 11, 21, 10, tzinfo=timezone.utc))
    assert ours(adapter_deps, other) == []
    assert received(sandbox[1], partner, case_of(adapter_deps, other).partner_case_ref) == []


@pytest.mark.parametrize("partner", CONSENT_CHANNELS)
def test_a_notice_outlasts_a_5xx_and_a_partner_down_for_minutes_and_arrives_once(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, partner, consent)
    run_for(opener, clock, 0)
    store.change_status(sandbox[1], partner, case_of(adapter_deps, rid).partner_case_ref,
                        "completed")  # the partner's answer is final: it is told all the same
    store.set_behaviour(sandbox[1], partner, "fail", 0, None)
    withdraw(adapter_deps, consent)
    run_for(opener, clock, 0)
    [n] = ours(adapter_deps, rid)
    assert (n.status, n.attempts) == ("pending", 1) and "503" in n.last_error
    run_for(opener, clock, 600)  # down for ten minutes: growing delays, the breaker
    [n] = ours(adapter_deps, rid)
    assert n.status == "pending" and 1 < n.attempts <= 5, (n.attempts, n.last_error)
    ref = case_of(adapter_deps, rid).partner_case_ref
    assert received(sandbox[1], partner, ref) == []
    # back, but the first answer is lost after the partner stored the notice
    store.set_behaviour(sandbox[1], partner, "timeout", 0, None)
    clock.advance(3600)
    run_for(opener, clock, 0)
    assert [r["deliveries"] for r in received(sandbox[1], partner, ref)] == [1]
    assert ours(adapter_deps, rid)[0].status == "pending"
    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    run_for(opener, clock, 3600, step=30)
    assert_told_once(adapter_deps, sandbox, partner, rid, "consent_withdrawn", deliveries=2)
    assert len(notice_events(adapter_deps)) == 1


@pytest.mark.parametrize("partner", CONSENT_CHANNELS)
def test_a_withdrawal_before_delivery_sends_the_partner_nothing(
        partner, adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, partner, consent)
    withdraw(adapter_deps, consent)
    run_for(opener, clock, 60)
    assert partner_cases_for(sandbox[1], partner, rid) == []
    case = case_of(adapter_deps, rid)
    assert case.status == "cancelled" and case.last_error.startswith("consent_withdrawn")
    assert case.partner_case_ref is None
    assert outbox_types(adapter_deps) == []  # neither opened nor failed: not retried
    assert ours(adapter_deps, rid) == []
    with adapter_deps.session_factory() as s:
        assert s.execute(select(tables.disclosures)).all() == []


def test_a_withdrawal_arriving_in_any_order_stops_a_case_requested_later(
        adapter_deps, sandbox, clock, settings):
    """The withdrawal overtook the referral: the case is still never delivered."""
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    withdraw(adapter_deps, consent)
    rid = request_case(adapter_deps, "welfare", consent)
    run_for(opener, clock, 30)
    assert partner_cases_for(sandbox[1], "welfare", rid) == []
    assert case_of(adapter_deps, rid).status == "cancelled"


@pytest.mark.parametrize("partner", CONSENT_CHANNELS)
def test_a_case_whose_answer_was_lost_before_the_withdrawal_is_found_and_told(
        partner, adapter_deps, sandbox, clock, settings):
    """The partner created the case but its answer never came; then the consent was
    withdrawn. The partner holds the data, so it is asked, not skipped: one case, recorded
    as delivered, and one notice."""
    opener = opener_for(adapter_deps, sandbox, clock, settings, read_timeout=1.0)
    if hasattr(opener.gateways[partner], "destination"):  # its key read before, not timed
        opener.gateways[partner].destination()
    store.set_behaviour(sandbox[1], partner, "timeout", 3.0, None)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, partner, consent)
    run_for(opener, clock, 0)
    assert case_of(adapter_deps, rid).answer_lost
    [stored] = wait_until(lambda: partner_cases_for(sandbox[1], partner, rid),
                          message="the partner stored the case")
    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    withdraw(adapter_deps, consent)
    run_for(opener, clock, 60)
    case = case_of(adapter_deps, rid)
    assert (case.status, case.partner_case_ref) == ("opened", stored["reference"])
    [again] = partner_cases_for(sandbox[1], partner, rid)
    assert again["posts"] == stored["posts"]  # looked up, never sent again
    assert_told_once(adapter_deps, sandbox, partner, rid, "consent_withdrawn")
    with adapter_deps.session_factory() as s:
        assert len(s.execute(select(tables.disclosures)).all()) == 1


def test_a_withdrawal_while_the_partner_cannot_be_asked_waits_and_sends_nothing(
        adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, "welfare", consent)
    store.set_behaviour(sandbox[1], "welfare", "fail", 0, None)
    withdraw(adapter_deps, consent)
    run_for(opener, clock, 0)
    case = case_of(adapter_deps, rid)
    assert case.status == "pending" and "consent withdrawn" in case.last_error
    assert case.attempts == 0  # a lookup that failed uses up no delivery attempt
    store.set_behaviour(sandbox[1], "welfare", "ok", 0, None)
    run_for(opener, clock, 120, step=30)
    assert case_of(adapter_deps, rid).status == "cancelled"
    assert partner_cases_for(sandbox[1], "welfare", rid) == []


def test_a_withdrawal_recorded_during_the_partner_call_is_told_after_it(
        adapter_deps, sandbox, clock, settings):
    """The withdrawal's handler ran while the partner was opening the case (it could not see
    the delivery yet): recording the delivery queues the notice."""
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, "welfare", consent)
    gateway = opener.gateways["welfare"]
    real_open = gateway.open_case

    def open_then_withdrawn(request, key):
        receipt = real_open(request, key)
        withdraw(adapter_deps, consent)
        return receipt
    gateway.open_case = open_then_withdrawn
    run_for(opener, clock, 30)
    assert_told_once(adapter_deps, sandbox, "welfare", rid, "consent_withdrawn")


def test_a_statutory_basis_is_not_stopped_by_a_withdrawn_consent(
        adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    withdraw(adapter_deps, consent)
    rid = request_case(adapter_deps, "registration",
                       legal_basis=DIRECTORY["registration"].legal_basis)
    run_for(opener, clock, 0)
    assert case_of(adapter_deps, rid).status == "opened"
    withdraw(adapter_deps, str(uuid.uuid4()))
    assert ours(adapter_deps, rid) == []


@pytest.mark.parametrize("partner", CHANNELS)
def test_an_erasure_notice_reaches_every_channel_once_even_after_a_5xx(
        partner, adapter_deps, sandbox, clock, settings):
    """The interface the erasure handler calls: by referral ids, cases that reached their
    partner only, each once."""
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    rid = request_case(adapter_deps, partner, str(uuid.uuid4()))
    run_for(opener, clock, 0)
    pending = request_case(adapter_deps, partner, str(uuid.uuid4()))  # not delivered yet
    store.set_behaviour(sandbox[1], partner, "fail", 0, None)
    with adapter_deps.uow() as uow:
        assert notices.queue_notices(uow, kind="erasure", referral_ids=[rid, pending],
                                     reason="erasure_requested", now=clock()) == 1
        assert notices.queue_notices(uow, kind="erasure", referral_ids=[rid],
                                     reason="erasure_requested", now=clock()) == 0
        uow.commit()
    run_for(opener, clock, 30)
    [n] = ours(adapter_deps, rid)
    assert n.status == "pending" and n.last_error  # refused by the 503 (or held back)
    assert received(sandbox[1], partner, n.partner_case_ref) == []
    assert ours(adapter_deps, pending) == []
    store.set_behaviour(sandbox[1], partner, "ok", 0, None)
    run_for(opener, clock, 60)
    assert_told_once(adapter_deps, sandbox, partner, rid, "erasure")


def test_a_portal_partner_sees_the_withdrawal_and_can_no_longer_answer(
        adapter_deps, settings, clock):
    from services.partner_adapter.app import create_app

    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, PORTAL, consent)
    assert handlers.open_partner_case(str(case_of(adapter_deps, rid).id), adapter_deps.uow,
                                      {}) == "opened"
    case = case_of(adapter_deps, rid)
    assert handlers.record_portal_report(PORTAL, str(case.id), "accepted", None, None,
                                         adapter_deps.uow()) == "recorded"
    withdraw(adapter_deps, consent)
    [n] = ours(adapter_deps, rid)
    assert notices.send_notice(str(n.id), adapter_deps.uow, {}) == "sent"  # no call to make
    assert [e["kind"] for e in notice_events(adapter_deps)] == ["consent_withdrawn"]
    assert handlers.record_portal_report(PORTAL, str(case.id), "completed", None,
                                         "case_closed", adapter_deps.uow()) == "closed"

    app = create_app(settings.for_service("partner_adapter"), adapter_deps)
    token = issue_token(app.secret_key, Principal(PORTAL, "partner", PORTAL))
    page = app.test_client().get("/partner/cases", headers={"Authorization": f"Bearer {token}",
                                                            "Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "notice-consent_withdrawn" in html
    assert f"/partner/cases/{case.id}/report" not in html  # closed for answering


def portal_page(adapter_deps, settings, partner: str) -> str:
    from services.partner_adapter.app import create_app

    app = create_app(settings.for_service("partner_adapter"), adapter_deps)
    token = issue_token(app.secret_key, Principal(partner, "partner", partner))
    page = app.test_client().get("/partner/cases", headers={"Authorization": f"Bearer {token}",
                                                            "Accept-Language": "en"})
    assert page.status_code == 200
    return page.get_data(as_text=True)


def test_a_portal_partner_sees_the_person_only_while_delivered_on_a_standing_consent(
        adapter_deps, settings, clock):
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, PORTAL, consent)
    html = portal_page(adapter_deps, settings, PORTAL)  # requested, not delivered (checked)
    assert "Not delivered yet" in html and not any(v in html for v in ANY_FORM)
    handlers.open_partner_case(str(case_of(adapter_deps, rid).id), adapter_deps.uow, {})
    assert all(v in portal_page(adapter_deps, settings, PORTAL) for v in PAGE_VALUES)
    withdraw(adapter_deps, consent)
    html = portal_page(adapter_deps, settings, PORTAL)
    assert "Consent withdrawn: no data shown" in html
    assert not any(v in html for v in ANY_FORM)


def test_a_case_requested_on_a_consent_already_withdrawn_never_shows_the_person(
        adapter_deps, settings, clock):
    consent = str(uuid.uuid4())
    withdraw(adapter_deps, consent)  # the referral left before the withdrawal reached it
    rid = request_case(adapter_deps, PORTAL, consent)
    assert not any(v in portal_page(adapter_deps, settings, PORTAL) for v in ANY_FORM)
    assert handlers.open_partner_case(str(case_of(adapter_deps, rid).id), adapter_deps.uow,
                                      {}) == "withheld"
    assert not any(v in portal_page(adapter_deps, settings, PORTAL) for v in PERSON_VALUES)


def test_queue_notices_and_recipients_name_only_cases_that_reached_a_partner(
        adapter_deps, sandbox, clock, settings):
    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    delivered = request_case(adapter_deps, "welfare", consent)
    run_for(opener, clock, 0)
    waiting = request_case(adapter_deps, "jobcenter", consent)  # not delivered yet
    with adapter_deps.session_factory() as s:
        found = notices.recipients(s, consent_id=consent)
        assert [(r.referral_id, r.partner) for r in found] == [(delivered, "welfare")]
        assert notices.recipients(s, referral_ids=[waiting]) == []
        assert notices.recipients(s) == []
    with adapter_deps.uow() as uow:
        with pytest.raises(ValueError):
            notices.queue_notices(uow, kind="gossip", referral_ids=[delivered], reason="x",
                                  now=clock())
        assert notices.queue_notices(uow, kind="erasure", reason="x", now=clock()) == 0


def test_a_notice_the_partner_refuses_fails_without_retrying(adapter_deps, sandbox, clock,
                                                             settings):
    from services.partner_adapter.partners.base import PartnerRefused

    opener = opener_for(adapter_deps, sandbox, clock, settings)
    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, "welfare", consent)
    run_for(opener, clock, 0)
    withdraw(adapter_deps, consent)
    calls = []

    def refuse(case_ref, notice, key):
        calls.append(key)
        raise PartnerRefused("HTTP 422: unknown notice")
    opener.gateways["welfare"].notify = refuse
    run_for(opener, clock, 600, step=30)
    [n] = ours(adapter_deps, rid)
    assert (n.status, len(calls)) == ("failed", 1) and "422" in n.last_error
    assert notice_events(adapter_deps) == []


def test_the_notice_tables_match_their_migrations(adapter_deps, sandbox):
    """The models and the migrations (0007 adapter, 0004 sandbox) agree, column by column."""
    for engine, table in ((adapter_deps.engine, tables.partner_notices),
                          (adapter_deps.engine, tables.withdrawn_consents),
                          (sandbox[1], sandbox_tables.sandbox_notices)):
        columns = {c["name"]: c["nullable"] for c in sa.inspect(engine).get_columns(table.name)}
        assert columns == {c.name: c.nullable for c in table.columns}, table.name


@pytest.mark.parametrize("partner", CONSENT_CHANNELS)
def test_a_withdrawal_after_the_round_read_its_consents_still_stops_the_call(
        partner, adapter_deps, sandbox, settings):
    """A round reads withdrawn consents once, but its calls may start most of a lease
    later: each call checks its consent again right before sending."""
    from services.partner_adapter.partners import gateways

    consent = str(uuid.uuid4())
    rid = request_case(adapter_deps, partner, consent)

    class WithdrawFirst(ThreadPoolExecutor):  # the withdrawal commits after the round's read
        def submit(self, fn, /, *args, **kwargs):
            withdraw(adapter_deps, consent)
            return super().submit(fn, *args, **kwargs)

    case_id = str(case_of(adapter_deps, rid).id)
    with WithdrawFirst(1) as pool:
        handlers.open_partner_cases([case_id], adapter_deps.uow,
                                    gateways(sandbox[0], settings.partner_credentials), pool=pool)
    assert partner_cases_for(sandbox[1], partner, rid) == []
    assert case_of(adapter_deps, rid).status == "cancelled"
