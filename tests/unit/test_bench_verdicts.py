"""The benchmark's verdicts: a target holds only for the whole load it names."""
from __future__ import annotations

from bench.run import cpu_ms_per_referral, verdicts


def report(*, intakes=32_000, accepted=32_000, drained=True, drain_seconds=800.0,
           refs_per_second=130.0, cpu_ms=11.0, at_partner=3_000, offered=20.0,
           latency_failed=0, p99=900.0, intake_rps=120.0, bare_rps=200.0,
           drain_timeout=900.0) -> dict:
    return {
        "settings": {"drain_timeout": drain_timeout},
        "surge": {"intakes": intakes, "intakes_accepted": accepted, "drained": drained,
                  "drain_seconds": drain_seconds, "referrals_per_second": refs_per_second,
                  "cpu_ms_per_referral": cpu_ms},
        "latency": {"offered_per_second": offered, "referrals": 3_000,
                    "at_partner": at_partner, "intake_api": {"failed": latency_failed},
                    "intake_to_partner_case_ms": {"p99": p99}},
        "baselines": {"bare_flask": {"requests_per_second": bare_rps}},
        "intake_api": {"requests_per_second": intake_rps},
    }


def test_every_target_holds_when_the_whole_load_meets_it():
    v = verdicts(report())
    assert v["cpu_per_referral_within_12_ms"] is True and v["cpu_ms_per_referral"] == 11.0
    assert v["surge_drained_at_120_referrals_per_second"] is True
    assert v["surge_of_32000_drained_within_15_minutes"] is True
    assert v["intake_at_least_half_of_bare_flask"] and v["intake_vs_bare_flask_ratio"] == 0.6
    assert v["p99_at_20_per_second_within_1_s"] is True and v["p99_at_20_per_second_ms"] == 900


def test_more_cpu_per_referral_than_12_ms_does_not_hold():
    assert not verdicts(report(cpu_ms=12.1))["cpu_per_referral_within_12_ms"]
    assert not verdicts(report(cpu_ms=None))["cpu_per_referral_within_12_ms"]


def test_cpu_per_referral_is_all_processes_cpu_over_the_referrals_at_a_partner():
    assert cpu_ms_per_referral({"worker-intake": 3.0, "serve-intake": 1.5}, 500) == 9.0
    assert cpu_ms_per_referral({"worker-intake": 3.0}, 0) is None


def test_a_surge_slower_than_120_referrals_per_second_does_not_hold():
    assert not verdicts(report(refs_per_second=119.9))["surge_drained_at_120_referrals_per_second"]


def test_the_120_per_second_target_is_judged_on_a_surge_of_any_size():
    small = report(intakes=2_000, accepted=2_000, drain_seconds=45, refs_per_second=133.0)
    assert verdicts(small)["surge_drained_at_120_referrals_per_second"] is True


def test_a_surge_cut_off_by_the_timeout_does_not_hold_even_if_what_was_posted_drained():
    cut_off = verdicts(report(accepted=9_000))
    assert not cut_off["surge_of_32000_drained_within_15_minutes"]
    assert not cut_off["surge_drained_at_120_referrals_per_second"]
    assert not verdicts(report(drain_seconds=901))["surge_of_32000_drained_within_15_minutes"]
    undrained = verdicts(report(drained=False))
    assert undrained["surge_of_32000_drained_within_15_minutes"] is False
    assert not undrained["surge_drained_at_120_referrals_per_second"]


def test_a_smaller_surge_does_not_judge_the_years_target():
    small = report(intakes=2_000, accepted=2_000, drain_seconds=290)
    assert verdicts(small)["surge_of_32000_drained_within_15_minutes"] == \
        "not judged (surge of 2000)"


def test_a_year_not_drained_when_the_run_gave_up_before_15_minutes_is_not_judged():
    v = verdicts(report(drained=False, drain_seconds=600, drain_timeout=600.0))
    assert v["surge_of_32000_drained_within_15_minutes"] == "not judged (gave up after 600 s)"


def test_latency_of_a_window_not_fully_drained_does_not_hold():
    assert not verdicts(report(at_partner=2_999))["p99_at_20_per_second_within_1_s"]
    assert not verdicts(report(latency_failed=3))["p99_at_20_per_second_within_1_s"]
    assert not verdicts(report(p99=1_001.0))["p99_at_20_per_second_within_1_s"]


def test_latency_at_another_offered_rate_is_not_judged():
    v = verdicts(report(offered=100.0))
    assert v["p99_at_20_per_second_within_1_s"] == "not judged (offered 100/s)"
    assert v["p99_at_20_per_second_ms"] is None


def test_the_intake_api_below_half_of_bare_flask_does_not_hold():
    v = verdicts(report(intake_rps=90.0))
    assert not v["intake_at_least_half_of_bare_flask"] and v["intake_vs_bare_flask_ratio"] == 0.45


def with_reporting(*, consultations=32_100, scale=1.0, p95=(300.0, 800.0), caught_up=True,
                   lag=2.0, capacity=900.0, pipeline=400.0) -> dict:
    return {**report(), "reporting": {
        "live": {"caught_up": caught_up, "lag_seconds": lag,
                 "pipeline_events_per_second": pipeline},
        "year": {"consultations": consultations, "scale": scale,
                 "projection_events_per_second": capacity,
                 "report_ms": {f"r{i}": {"p50": p / 2, "p95": p} for i, p in enumerate(p95)}}}}


def test_the_reporting_targets_hold_for_a_projection_in_step_and_reports_within_a_second():
    v = verdicts(with_reporting())
    assert v["projection_keeps_up_with_the_pipeline"] is True
    assert v["year_report_within_1_s"] is True and v["slowest_year_report_p95_ms"] == 800.0


def test_a_projection_lagging_or_slower_than_the_pipeline_does_not_keep_up():
    assert not verdicts(with_reporting(lag=30.0))["projection_keeps_up_with_the_pipeline"]
    assert not verdicts(with_reporting(caught_up=False))["projection_keeps_up_with_the_pipeline"]
    assert not verdicts(with_reporting(capacity=300.0))["projection_keeps_up_with_the_pipeline"]


def test_a_report_slower_than_a_second_fails_and_a_small_year_is_not_judged():
    assert verdicts(with_reporting(p95=(200.0, 1000.0)))["year_report_within_1_s"] is False
    small = verdicts(with_reporting(consultations=321, scale=0.01))["year_report_within_1_s"]
    assert small == "not judged (a year at scale 0.01)"


def test_a_run_without_the_reporting_phase_has_no_reporting_verdicts():
    assert "year_report_within_1_s" not in verdicts(report())
