"""The partner adapter takes referral.requested in batches
(services/partner_adapter/case_requests.py): the same requests one by one, in batches,
through delivery (and its retry message by message) end in the same rows, a request
meeting a case a racing batch recorded meanwhile is skipped, and a batch of 50 takes a
constant number of statements, not some per request."""
from __future__ import annotations

from dataclasses import replace

from services.partner_adapter import case_requests, repository
from shared.bus.delivery import Verdict, deliver_batch
from shared.events.envelope import parse_envelope
from tests.partner_adapter_batches import (REQUEST, T0, Statements, clear, feed, fixed_id,
                                           referral_id, request, requests, seed_requests,
                                           snapshot, still)


def expected_cases(cases: list[dict]) -> None:
    """What the requests must leave, read off the rows (not only the same rows both ways)."""
    by_referral = {c["referral_id"]: c for c in cases}
    assert len(cases) == 12  # 11 referrals asked for, and the one known before
    a, b, c = (by_referral[referral_id(n)] for n in "abc")
    assert a["basis"] == f"consent {fixed_id('consent:a')}"
    assert (a["flow_correlation_id"], a["flow_causation_id"]) == (fixed_id("flow:a"),
                                                                  fixed_id("a"))
    assert "household" in a["request"] and "person" in a["request"]
    assert b["basis"] == "§ 69 SGB X" and "household" not in b["request"]  # allow-list
    assert c["basis"] == "consent (signed_form)"
    known = by_referral[referral_id("known")]
    assert known["flow_causation_id"] == fixed_id("known first")  # not asked for again
    assert {c["status"] for c in cases} == {"pending"}
    assert {(c["created_at"], c["next_attempt_at"]) for c in cases} == {(T0, T0)}


def test_requests_one_by_one_in_batches_and_delivered_end_in_the_same_rows(adapter_deps):
    deps = still(adapter_deps)
    seed_requests(deps)
    feed(deps, requests(), batch=None)
    one_by_one = snapshot(deps)
    expected_cases(one_by_one["cases"])
    assert one_by_one["outbox"] == []  # a pending case announces nothing

    for batch in (50, 5, 2):
        clear(deps)
        seed_requests(deps)
        feed(deps, requests(), batch=batch)
        assert snapshot(deps) == one_by_one, batch

    clear(deps)
    seed_requests(deps)
    outcomes = deliver_batch(requests(), REQUEST, deps.uow)
    assert [o.reason for o in outcomes] == [""] * 7 + ["duplicate"] + [""] * 6
    assert snapshot(deps) == one_by_one
    assert {o.reason for o in deliver_batch(requests(), REQUEST, deps.uow)} == {"duplicate"}
    assert snapshot(deps) == one_by_one


def test_a_failing_batch_of_requests_is_retried_one_by_one_with_the_same_rows(adapter_deps):
    deps = still(adapter_deps)
    seed_requests(deps)
    feed(deps, requests(), batch=None)
    one_by_one = snapshot(deps)
    clear(deps)
    seed_requests(deps)

    def failing(envelopes, uow):
        raise RuntimeError("the batch fails")

    outcomes = deliver_batch(requests(), replace(REQUEST, batch_handler=failing), deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * len(requests())
    assert snapshot(deps) == one_by_one


def test_a_request_for_a_partner_not_in_the_directory_is_parked_alone(adapter_deps):
    deps = still(adapter_deps)
    seed_requests(deps)
    feed(deps, requests(), batch=None)
    one_by_one = snapshot(deps)
    clear(deps)
    seed_requests(deps)
    bodies = requests()
    bodies.insert(3, request("astray", "nowhere", consent="astray"))
    outcomes = deliver_batch(bodies, REQUEST, deps.uow)
    parked = outcomes.pop(3)
    assert parked.verdict is Verdict.PARK and "nowhere" in parked.reason
    assert {o.verdict for o in outcomes} == {Verdict.ACK}
    assert snapshot(deps) == one_by_one


def test_a_case_recorded_meanwhile_by_a_racing_batch_is_kept_not_doubled(adapter_deps,
                                                                       monkeypatch):
    """The existence check of a batch may miss a case another batch commits right after it
    (PostgreSQL, several workers): the insert skips it instead of failing the batch."""
    deps = still(adapter_deps)
    feed(deps, [request("first", referral="raced", consent="raced")], batch=1)
    racing_won = snapshot(deps)
    monkeypatch.setattr(repository, "requested", lambda *_: set())  # the check saw nothing
    feed(deps, [request("second", referral="raced", consent="raced"),
                request("fresh", consent="fresh")], batch=2)
    after = snapshot(deps)
    assert [c for c in after["cases"] if c["referral_id"] == referral_id("raced")] == \
        racing_won["cases"]  # the first request's case, its flow included
    assert len(after["cases"]) == 2


def fifty_requests() -> list[str]:
    return [request(f"busy {i}", ("jobcenter", "welfare", "sozialamt")[i % 3],
                    consent=f"busy {i}") for i in range(50)]


def test_a_batch_of_fifty_requests_takes_two_statements(adapter_deps):
    statements = Statements(adapter_deps.engine)
    with adapter_deps.uow() as uow:
        case_requests.request_partner_cases([parse_envelope(b) for b in fifty_requests()],
                                            uow)
        uow.commit()
    # which cases exist, then one INSERT, an executemany (one by one: 50 SELECTs, 50 INSERTs)
    assert statements.seen == ["SELECT", "INSERT"]
    with adapter_deps.session_factory() as s:
        assert len(repository.listing(s)) == 50


def test_delivering_a_batch_of_fifty_requests_takes_four_statements(adapter_deps):
    statements = Statements(adapter_deps.engine)
    outcomes = deliver_batch(fifty_requests(), REQUEST, adapter_deps.uow)
    assert [o.verdict for o in outcomes] == [Verdict.ACK] * 50
    # delivery's inbox insert and tombstone query, and the handler's two (before: 102)
    assert len(statements.seen) <= 4, statements.seen
