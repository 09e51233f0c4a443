"""Delivery guarantees and data minimisation at the partner adapter (SQLite, fake partners)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from services.partner_adapter import handlers, repository
from services.partner_adapter.domain import pick
from services.partner_adapter.guards import PartnerGuards
from shared.bus.delivery import deliver
from shared.partners import DIRECTORY, SHAREABLE_FIELDS
from tests.component.test_partner_cases import REQUEST, cases, outbox_types, referral_requested
from tests.fakes import FakePartnerGateway


def _open(deps, gateway, **kw):
    return [handlers.open_partner_case(str(c.id), deps.uow, {"jobcenter": gateway}, **kw)
            for c in cases(deps) if c.status == "pending"]


def test_the_case_keeps_only_what_the_partners_allow_list_names(adapter_deps):
    directory = {**DIRECTORY, "jobcenter": replace(
        DIRECTORY["jobcenter"], allow_list=("referral_id", "need", "person.family_name"))}
    body = json.loads(referral_requested())
    with adapter_deps.uow() as uow:
        handlers.request_partner_case(_envelope(body), uow, directory=directory)
        uow.commit()
    [case] = cases(adapter_deps)
    assert case.request == {"referral_id": body["data"]["referral_id"],
                            "need": "living_costs", "person": {"family_name": "Kovalenko"}}


def test_what_the_partner_received_is_recorded_as_fields_and_a_hash(adapter_deps):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway()
    assert _open(adapter_deps, gateway) == ["opened"]
    [case] = cases(adapter_deps)
    with adapter_deps.session_factory() as s:
        [d] = repository.disclosures_of(s, str(case.referral_id))
    sent = json.dumps(gateway.payload(case.request), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    assert d.payload_sha256 == hashlib.sha256(sent.encode()).hexdigest()
    assert set(d.fields) == set(DIRECTORY["jobcenter"].allow_list) - {"household"}  # none
    assert d.basis == "consent (signed_form)" and d.channel == "handover_document"
    assert "Kovalenko" not in json.dumps(dict(d._mapping), default=str)  # no data, only facts


def test_a_lost_answer_is_looked_up_before_any_retry_so_there_is_one_case(adapter_deps):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway(lose_answers=1)
    assert _open(adapter_deps, gateway) == ["retry"]
    [case] = cases(adapter_deps)
    assert case.answer_lost and case.status == "pending"
    _make_due(adapter_deps)
    assert _open(adapter_deps, gateway) == ["opened"]
    assert len(gateway.calls) == 1 and gateway.lookups == [str(case.referral_id)]
    assert outbox_types(adapter_deps) == ["partner_case.opened"]


def test_after_the_last_attempt_the_case_fails_with_its_reason(adapter_deps):
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    directory = {**DIRECTORY, "jobcenter": replace(DIRECTORY["jobcenter"], max_attempts=3)}
    gateway = FakePartnerGateway(fail_times=10)
    outcomes = []
    for _ in range(3):
        outcomes += _open(adapter_deps, gateway, directory=directory)
        _make_due(adapter_deps)
    assert outcomes == ["retry", "retry", "failed"]
    [case] = cases(adapter_deps)
    assert case.status == "failed" and "after 3 attempts" in case.last_error
    assert outbox_types(adapter_deps) == ["partner_case.failed"]


def test_an_open_circuit_defers_cases_without_using_up_attempts(adapter_deps):
    for _ in range(3):
        deliver(referral_requested(), REQUEST, adapter_deps.uow)
    directory = {**DIRECTORY, "jobcenter": replace(DIRECTORY["jobcenter"], breaker_failures=2)}
    guards, now = PartnerGuards(directory), datetime(2026, 11, 21, 9, tzinfo=timezone.utc)
    gateway = FakePartnerGateway(fail_times=100)
    outcomes = _open(adapter_deps, gateway, directory=directory, guards=guards,
                     clock=lambda: now)
    assert outcomes == ["retry", "retry", "deferred"]
    assert len(gateway.calls) == 2  # the third case never reached the down partner
    deferred = next(c for c in cases(adapter_deps) if c.attempts == 0)
    assert "circuit open" in deferred.last_error
    assert guards.breaker.state("jobcenter", now) == "open"


def _make_due(deps):
    from sqlalchemy import update

    from services.partner_adapter.tables import partner_cases
    with deps.engine.begin() as conn:
        conn.execute(update(partner_cases).values(
            next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1)))


def _envelope(body):
    from shared.events.envelope import parse_envelope
    return parse_envelope(json.dumps(body))


PORTAL_PARTNERS = sorted(code for code, p in DIRECTORY.items() if not p.has_system)


@pytest.mark.parametrize("partner", PORTAL_PARTNERS)
def test_a_portal_partner_is_shown_exactly_its_allow_listed_fields(adapter_deps, partner):
    """The portal channel's contract: the case a portal partner reads in /partner/cases is
    the stored request, and it holds every allow-listed field the referral carried, no other."""
    body = json.loads(referral_requested())
    body["data"].update(partner=partner, household=[{"relation": "child",
                                                     "birth_date": "2020-01-01"}])
    deliver(json.dumps(body), REQUEST, adapter_deps.uow)
    [case] = cases(adapter_deps)
    allowed = DIRECTORY[partner].allow_list
    offered = {f for f in SHAREABLE_FIELDS if pick(body["data"], f) is not None}
    shown = {f for f in SHAREABLE_FIELDS if pick(case.request, f) is not None}
    assert shown == offered & set(allowed), partner
    for field in shown:
        assert pick(case.request, field) == pick(body["data"], field)


def _open_together(deps, gateway, **kw):
    ids = [str(c.id) for c in cases(deps) if c.status == "pending"]
    return handlers.open_partner_cases(ids, deps.uow, {"jobcenter": gateway}, **kw)


def test_a_batch_is_opened_and_recorded_together_each_case_once(adapter_deps):
    for _ in range(5):
        deliver(referral_requested(), REQUEST, adapter_deps.uow)
    gateway = FakePartnerGateway(fail_times=1)
    outcomes = _open_together(adapter_deps, gateway)
    assert sorted(outcomes.values()) == ["opened"] * 4 + ["retry"]
    assert len(set(gateway.calls)) == 5  # one key per case
    assert sorted(outbox_types(adapter_deps)) == ["partner_case.opened"] * 4
    with adapter_deps.session_factory() as s:
        assert all(len(repository.disclosures_of(s, str(c.referral_id))) ==
                   (c.status == "opened") for c in cases(adapter_deps))


def test_one_case_failing_to_be_recorded_does_not_hold_back_the_others(adapter_deps,
                                                                       monkeypatch):
    for _ in range(3):
        deliver(referral_requested(), REQUEST, adapter_deps.uow)
    [broken, *_] = [str(c.id) for c in cases(adapter_deps)]
    record = handlers._record

    def record_but_one(uow, case, call, *rest):
        if case is not None and str(case.id) == broken:
            raise RuntimeError("a bug in recording one case")
        return record(uow, case, call, *rest)

    monkeypatch.setattr(handlers, "_record", record_but_one)
    gateway = FakePartnerGateway()
    outcomes = _open_together(adapter_deps, gateway)
    assert outcomes.pop(broken) == "error" and set(outcomes.values()) == {"opened"}
    assert next(c for c in cases(adapter_deps) if str(c.id) == broken).status == "pending"
    monkeypatch.setattr(handlers, "_record", record)  # the lease lapses; the retry, same key:
    _open_together(adapter_deps, gateway)
    assert len(gateway.cases) == 3 and len(gateway.calls) == 4
    assert outbox_types(adapter_deps) == ["partner_case.opened"] * 3


def test_a_call_that_could_outlast_its_lease_does_not_start_and_gives_the_lease_up(
        adapter_deps):
    """A call may take its partner's longest call (every request waiting out both timeouts,
    the lookup after a lost answer included): it starts only if it would still end, with
    time to record the answer, before the lease does; otherwise the case goes straight back
    to the next round, its attempts untouched."""
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    [case_id] = [str(c.id) for c in cases(adapter_deps)]
    now = datetime.now(timezone.utc)
    longest = handlers.longest_call(DIRECTORY["jobcenter"])
    assert longest == timedelta(seconds=2 * (DIRECTORY["jobcenter"].connect_timeout
                                             + DIRECTORY["jobcenter"].read_timeout))
    gateway = FakePartnerGateway()
    # with more than half the lease left, the old rule ("start in the first half") called
    too_short = longest + timedelta(seconds=handlers.RECORDING_SECONDS - 1)
    assert repository.claim_due(adapter_deps.engine, now, 10,
                                too_short.total_seconds()) == [case_id]
    assert list(_open_together(adapter_deps, gateway,
                               lease_until=now + too_short).values()) == ["later"]
    [case] = cases(adapter_deps)
    assert gateway.calls == [] and (case.status, case.attempts) == ("pending", 0)
    # the lease is given up: the next round takes the case at once
    enough = longest + timedelta(seconds=handlers.RECORDING_SECONDS + 5)
    assert repository.claim_due(adapter_deps.engine, now, 10,
                                enough.total_seconds()) == [case_id]
    assert list(_open_together(adapter_deps, gateway,
                               lease_until=now + enough).values()) == ["opened"]


def test_giving_up_a_lease_leaves_a_lease_another_opener_took_since(adapter_deps):
    """A round that gives up its lease late (its lease lapsed meanwhile and another opener
    claimed the case, whose call may be under way) must not end that opener's lease."""
    deliver(referral_requested(), REQUEST, adapter_deps.uow)
    [case_id] = [str(c.id) for c in cases(adapter_deps)]
    now = datetime.now(timezone.utc)
    assert repository.claim_due(adapter_deps.engine, now, 10, 60) == [case_id]
    later = now + timedelta(seconds=61)  # our lease lapsed; another opener claims
    assert repository.claim_due(adapter_deps.engine, later, 10, 60) == [case_id]
    with adapter_deps.uow() as uow:
        repository.give_up_leases(uow.session, [case_id], now + timedelta(seconds=60))
        uow.commit()
    assert repository.claim_due(adapter_deps.engine, later, 10, 60) == []  # still leased
    with adapter_deps.uow() as uow:  # the other opener gives its own lease up
        repository.give_up_leases(uow.session, [case_id], later + timedelta(seconds=60))
        uow.commit()
    assert repository.claim_due(adapter_deps.engine, later, 10, 60) == [case_id]


def test_the_longest_call_counts_every_request_an_attempt_may_make():
    """The lookup after a lost answer, then open_case's own requests: one, or a secure
    submission's four (destination, its key, announcement, submission); portals: none."""
    secure = next(p for p in DIRECTORY.values() if p.kind == "secure_submission")
    portal = next(p for p in DIRECTORY.values() if not p.has_system)
    slow = replace(secure, connect_timeout=30, read_timeout=120)
    assert handlers.longest_call(slow) == timedelta(seconds=5 * 150)
    assert handlers.longest_call(portal) == timedelta(0)
