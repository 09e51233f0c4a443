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
