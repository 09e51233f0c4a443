"""The benchmark's verdicts: a target holds only for the whole load it names."""
from __future__ import annotations

from bench.run import verdicts


def report(*, intakes=32_000, accepted=32_000, drained=True, drain_seconds=280.0,
           at_partner=3_000, p99=200.0, intake_rps=120.0, bare_rps=200.0) -> dict:
    return {
        "surge": {"intakes": intakes, "intakes_accepted": accepted, "drained": drained,
                  "drain_seconds": drain_seconds},
        "latency": {"referrals": 3_000, "at_partner": at_partner,
                    "intake_to_partner_case_ms": {"p99": p99}},
        "baselines": {"bare_flask": {"requests_per_second": bare_rps}},
        "intake_api": {"requests_per_second": intake_rps},
    }


def test_every_target_holds_when_the_whole_load_meets_it():
    v = verdicts(report())
    assert v["surge_drained_within_5_minutes"] and v["p99_within_250_ms"]
    assert v["intake_at_least_half_of_bare_flask"] and v["intake_vs_bare_flask_ratio"] == 0.6


def test_a_surge_cut_off_by_the_timeout_does_not_hold_even_if_what_was_posted_drained():
    assert not verdicts(report(accepted=9_000))["surge_drained_within_5_minutes"]
    assert not verdicts(report(drain_seconds=301))["surge_drained_within_5_minutes"]


def test_a_smaller_surge_drained_in_time_does_not_make_the_years_target_hold():
    small = report(intakes=2_000, accepted=2_000, drain_seconds=290)
    assert not verdicts(small)["surge_drained_within_5_minutes"]


def test_latency_of_a_window_not_fully_drained_does_not_hold():
    assert not verdicts(report(at_partner=2_999))["p99_within_250_ms"]


def test_the_intake_api_below_half_of_bare_flask_does_not_hold():
    v = verdicts(report(intake_rps=90.0))
    assert not v["intake_at_least_half_of_bare_flask"] and v["intake_vs_bare_flask_ratio"] == 0.45
