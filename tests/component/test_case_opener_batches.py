"""A case opener round records the answers of calls that ended together in one transaction,
in a constant number of statements (handlers.open_partner_cases): case by case, together or
on a pool, the calls of a round ending every way a call can end leave the same rows and
outgoing events, answers failing to be recorded together are recorded one by one, and a
round of 32 cases takes a bounded number of statements."""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.partner_adapter import handlers, repository
from services.partner_adapter import tables as t
from tests.partner_adapter_batches import (EXPECTED_OUTCOMES, ROUND, T0, Partners, Statements,
                                           clear, feed, fixed_id, open_round, referral_id,
                                           request, seed_round, snapshot, still)


def expected_round(rows: dict, partners: Partners) -> None:
    """What the round must leave, read off the rows."""
    cases = {c["referral_id"]: c for c in rows["cases"]}

    def case(label: str) -> dict:
        return cases[referral_id(label)]

    assert case("books")["appointment"]["location"] == "Bürgeramt Mitte, Raum 2"
    assert case("books")["next_poll_at"] is not None  # a partner read by polling
    assert case("portal")["partner_case_ref"] == f"HO of {referral_id('portal')}"
    assert (case("unavailable")["attempts"], case("unavailable")["status"]) == (1, "pending")
    assert (case("last attempt")["attempts"], case("last attempt")["status"]) == (8, "failed")
    assert case("lost")["answer_lost"] and case("lost")["status"] == "pending"
    assert case("found")["partner_case_ref"] == f"REF-{referral_id('found')[:8]}"
    assert case("withdrawn before")["status"] == "cancelled"
    assert case("cancelled during")["cancel_due_at"] == T0
    assert (case("rate limited")["attempts"], case("rate limited")["next_attempt_at"]) == (
        0, T0.replace(minute=5))
    assert {c["lease_until"] for c in rows["cases"]} == {None}
    disclosed = {d["referral_id"] for d in rows["disclosures"]}
    assert disclosed == {referral_id(label) for label, outcome in EXPECTED_OUTCOMES.items()
                         if outcome == "opened"}
    assert [(n["referral_id"], n["kind"]) for n in rows["notices"]] == [
        (referral_id("withdrawn during"), "consent_withdrawn")]
    announced = sorted((e["type"], e["subject"]) for e in rows["outbox"])
    assert [kind for kind, _ in announced] == ["partner_case.failed"] * 2 + [
        "partner_case.opened"] * 7
    assert sorted(partners.calls) == sorted(  # never called: withheld, deferred, found
        set(ROUND) - {"portal", "found", "withdrawn before", "rate limited", "opened before"})


@pytest.mark.parametrize("mode", ["together", "on a pool"])
def test_a_round_records_the_same_rows_and_events_as_each_case_on_its_own(adapter_deps,
                                                                          mode):
    deps = still(adapter_deps)
    ids = seed_round(deps)
    partners = Partners(deps)
    assert open_round(deps, ids, partners, together=False) == EXPECTED_OUTCOMES
    one_by_one = snapshot(deps)
    expected_round(one_by_one, partners)

    clear(deps)
    ids = seed_round(deps)
    partners = Partners(deps)
    if mode == "together":
        assert open_round(deps, ids, partners, together=True) == EXPECTED_OUTCOMES
    else:
        with ThreadPoolExecutor(4) as pool:  # the answers end in groups of any size
            assert open_round(deps, ids, partners, together=True,
                              pool=pool) == EXPECTED_OUTCOMES
    assert snapshot(deps) == one_by_one


def test_answers_failing_to_be_recorded_together_are_recorded_one_by_one(adapter_deps,
                                                                        monkeypatch, caplog):
    deps = still(adapter_deps)
    ids = seed_round(deps)
    open_round(deps, ids, Partners(deps), together=False)
    one_by_one = snapshot(deps)
    clear(deps)
    ids = seed_round(deps)
    add_disclosures = repository.add_disclosures

    def failing_with_many(session, ds):
        if len(ds) > 1:
            raise RuntimeError("one of the answers cannot be written")
        return add_disclosures(session, ds)

    monkeypatch.setattr(repository, "add_disclosures", failing_with_many)
    with caplog.at_level(logging.WARNING):
        assert open_round(deps, ids, Partners(deps), together=True) == EXPECTED_OUTCOMES
    assert "one by one now" in caplog.text
    assert snapshot(deps) == one_by_one  # each answer recorded once, none called again


def test_a_round_of_32_cases_takes_a_bounded_number_of_statements(adapter_deps):
    deps = still(adapter_deps)
    feed(deps, [request(f"round {i}", consent=f"round {i}") for i in range(32)], batch=32)
    with deps.session_factory() as s:
        ids = [str(c.id) for c in repository.listing(s)]
    partners = Partners(deps)
    partners.labels.update({referral_id(f"round {i}"): "opens" for i in range(32)})
    statements = Statements(deps.engine)
    outcomes = handlers.open_partner_cases(ids, deps.uow, partners.gateways(),
                                           clock=deps.clock)
    assert set(outcomes.values()) == {"opened"} and len(outcomes) == 32
    # the round's read: the cases, their withdrawn consents; each call's consent check;
    # the answers recorded together: the locks, the cases, the disclosures, the withdrawals
    # of the delivered cases' consents, the outbox (before: 2 + 32 + 1 + 3 x 32 + 1 = 132)
    assert statements.seen == ["SELECT", "SELECT", *["SELECT"] * 32,
                               "SELECT", "UPDATE", "INSERT", "SELECT", "INSERT"]
    with deps.session_factory() as s:
        assert len(s.execute(t.disclosures.select()).all()) == 32
        assert len(s.execute(t.outbox.select()).all()) == 32


def test_each_case_announces_its_opening_in_its_own_flow(adapter_deps):
    """Answers recorded together still continue each referral's own flow."""
    deps = still(adapter_deps)
    ids = seed_round(deps)
    open_round(deps, ids, Partners(deps), together=True)
    opened = [e for e in snapshot(deps)["outbox"] if e["type"] == "partner_case.opened"]
    assert len(opened) == 7
    for e in opened:
        label = next(n for n in ROUND if referral_id(n) == e["data"]["referral_id"])
        assert (e["correlationid"], e["causationid"]) == (fixed_id(f"flow:{label}"),
                                                          fixed_id(label))
