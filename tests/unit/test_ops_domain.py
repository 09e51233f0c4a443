"""The console's plain rules: masking, causal order, timings, alerts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.ops import domain
from services.ops.domain import Handling, Thresholds

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)


def event(eid, cause=None, ms=0, **extra):
    at = T0 + timedelta(milliseconds=ms)
    return {"event_id": eid, "causation_id": cause, "occurred_at": at,
            "recorded_at": at + timedelta(milliseconds=5), "type": extra.pop("type", "x.y"),
            "service": "s", "subject": "s/1", "correlation_id": "c", **extra}


def test_mask_blanks_personal_values_and_keeps_ids_codes_and_times():
    payload = {"intake_id": "i-1", "needs": ["housing"], "status": "accepted",
               "person": {"given_name": "Olena", "birth_date": "1990-01-01",
                          "languages": ["uk"]},
               "household": [{"relation": "child", "birth_date": "2019-05-01"}],
               "note": "", "changed_at": "2026-11-21T09:00:00+00:00"}
    masked = domain.mask(payload)
    assert masked["intake_id"] == "i-1" and masked["needs"] == ["housing"]
    assert masked["person"] == {"given_name": "•••", "birth_date": "•••", "languages": ["•••"]}
    assert masked["household"] == [{"relation": "•••", "birth_date": "•••"}]
    assert masked["note"] == "" and masked["changed_at"] == payload["changed_at"]


def test_causal_order_puts_causes_first_and_siblings_by_time():
    events = [event("c2", "b", 30), event("b", "a", 10), event("a"), event("c1", "b", 20),
              event("d", "a", 15), event("other", None, 5)]
    assert [e["event_id"] for e in domain.causal_order(events)] == \
        ["a", "b", "c1", "c2", "d", "other"]


def test_trace_timings_and_referral_states():
    events = [event("a", type="intake.recorded"),
              event("b", "a", 40, type="referral.requested", referral_id="r1",
                    status="requested", partner="welfare"),
              event("c", "b", 90, type="referral.status_changed", referral_id="r1",
                    status="accepted")]
    handled = {"a": [Handling("referral.open_referrals", T0 + timedelta(milliseconds=35))]}
    t = domain.trace(events, handled)
    a, b, c = t["events"]
    assert (a["at_ms"], a["after_cause_ms"], a["to_bus_ms"]) == (0, None, 5)
    assert a["handled_by"] == [{"subscriber": "referral.open_referrals", "ms": 35}]
    assert (b["after_cause_ms"], c["after_cause_ms"], c["depth"]) == (40, 50, 2)
    assert t["referrals"]["r1"]["status"] == "accepted"
    assert t["referrals"]["r1"]["partner"] == "welfare"
    assert t["duration_ms"] == 90


def test_alerts_are_raised_at_their_thresholds():
    limits = Thresholds(outbox_lag_seconds=60, consumer_lag_messages=100, parked_messages=1,
                        overdue_referrals=5, open_circuits=1)
    readings = {"outboxes": {"intake": {"oldest_pending_seconds": 61, "pending": 9},
                             "referral": {"oldest_pending_seconds": 2, "pending": 1}},
                "queues": {"lotse.referral.open_referrals": 100, "lotse.x": None},
                "parked": 0, "overdue_referrals": 4,
                "circuits": {"welfare": "open", "jobcenter": "closed"}}
    keys = {a.key for a in domain.evaluate(readings, limits)}
    assert keys == {"outbox_lag:intake", "consumer_lag:lotse.referral.open_referrals",
                    "open_circuits"}


def test_who_answered_an_event_comes_from_the_events_it_caused():
    events = [event("a", type="intake.recorded"),
              event("b", "a", 40, type="referral.requested", service="referral"),
              event("b2", "a", 55, type="referral.requested", service="referral"),
              event("c", "b", 90, type="partner_case.opened", service="partner_adapter"),
              event("t", "a", 70, type="referral.overdue", service="timer")]
    subscribers = {("referral", "intake.recorded"): "referral.open_referrals",
                   ("partner_adapter", "referral.requested"): "partner_adapter.request_case"}
    found = domain.answers(events, lambda s, t: subscribers.get((s, t)))
    assert found["a"] == [Handling("referral.open_referrals", T0 + timedelta(milliseconds=40)),
                          Handling("timer", T0 + timedelta(milliseconds=70))]
    assert found["b"] == [Handling("partner_adapter.request_case",
                                   T0 + timedelta(milliseconds=90))]
    assert "c" not in found  # answered by nobody (or by handlers that emit nothing)


R = "5b0c51a4-56a5-4a47-9d5f-0d3b1c1f2c11"


def facts(**kw):
    return domain.ReferralFacts(R, **kw)


def test_a_higher_version_wins_a_notice_only_fills_in_a_status():
    requested = facts(status="requested", version=1, partner="welfare", status_at=T0)
    accepted = facts(status="accepted", version=2, partner="welfare",
                     status_at=T0 + timedelta(hours=1), work_since=T0 + timedelta(hours=1))
    notice = facts(status="received", partner="welfare", status_at=T0 + timedelta(hours=2),
                   ack_overdue_since=T0 + timedelta(hours=2))
    assert domain.merged(accepted, requested).status == "accepted"
    assert domain.merged(requested, accepted).status == "accepted"
    assert domain.merged(accepted, notice).status == "accepted"
    assert domain.merged(notice, requested).status == "requested"  # versioned beats a notice
    first = domain.merged(None, notice)
    assert (first.status, first.version) == ("received", None)
    everything = [requested, accepted, notice]
    for order in (everything, everything[::-1], [notice, requested, accepted]):
        folded = domain.fold(order)[R]
        assert (folded.status, folded.work_since, folded.ack_overdue_since) == (
            "accepted", T0 + timedelta(hours=1), T0 + timedelta(hours=2))


def test_overdue_as_the_referral_service_counts_it():
    h = lambda n: T0 + timedelta(hours=n)  # noqa: E731
    assert facts(status="requested", ack_overdue_since=h(1)).overdue
    assert facts(status="on-hold", ack_overdue_since=h(1)).overdue
    # entering the completion phase starts a new clock
    assert not facts(status="accepted", ack_overdue_since=h(1), work_since=h(2)).overdue
    # back to acknowledgement after that, and late again
    assert facts(status="requested", ack_overdue_since=h(3), work_since=h(2)).overdue
    assert facts(status="in-progress", completion_overdue_since=h(5), work_since=h(2)).overdue
    assert not facts(status="completed", completion_overdue_since=h(5)).overdue
    assert not facts(status="requested").overdue


def test_referral_facts_read_the_referral_events_and_nothing_else():
    from shared.events.envelope import Envelope

    overdue = Envelope("referral.overdue", "/lotse/referral", f"referral/{R}", {
        "referral_id": R, "status": "accepted", "partner": "welfare", "phase": "completion",
        "noticed_at": "2026-11-21T10:00:00+00:00", "due_at": "2026-11-21T09:00:00+00:00"})
    f = domain.referral_facts(overdue)
    assert (f.status, f.version, f.completion_overdue_since, f.ack_overdue_since) == (
        "accepted", None, datetime(2026, 11, 21, 10, tzinfo=timezone.utc), None)
    changed = Envelope("referral.status_changed", "/lotse/referral", f"referral/{R}", {
        "referral_id": R, "status": "in-progress", "version": 4, "partner": "welfare",
        "changed_at": "2026-11-21T11:00:00+00:00"})
    assert domain.referral_facts(changed).work_since == datetime(2026, 11, 21, 11,
                                                                 tzinfo=timezone.utc)
    assert domain.referral_facts(Envelope("intake.recorded", "/lotse/intake", "intake/1",
                                          {"intake_id": "1"})) is None
