"""The reporting rules on their own: pseudonymous keys, bands, periods, percentiles,
suppression, and what a fact keeps of an event (never a name or a birth date)."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from services.reporting import domain
from services.reporting.domain import Keyer, Suppression
from shared.events.model import typed
from tests.reporting_events import Referral, Scene, Visitor, at


def test_a_key_is_the_same_for_the_same_id_and_cannot_be_made_without_the_secret():
    key, other = Keyer.derived_from("secret"), Keyer.derived_from("another secret")
    assert key("person", "p-1") == key("person", "p-1")
    assert key("person", "p-1") != key("intake", "p-1")
    assert key("person", "p-1") != other("person", "p-1")
    assert len(key("person", "p-1")) == 32 and "p-1" not in key("person", "p-1")


@pytest.mark.parametrize("birth, band", [
    (date(2022, 3, 1), "0-5"), (date(2010, 3, 8), "6-11"), (date(2010, 3, 7), "12-17"),
    (date(1995, 3, 8), "18-26"), (date(1995, 3, 7), "27-44"), (date(1957, 3, 7), "65+")])
def test_the_age_band_is_the_age_on_the_day_of_the_consultation(birth, band):
    assert domain.age_band(birth, date(2022, 3, 7)) == band


def test_households_of_six_and_more_are_counted_together():
    assert [domain.household_size(n) for n in (0, 1, 4, 5, 9)] == ["1", "2", "5", "6+", "6+"]


def test_ukraine_is_a_group_of_its_own():
    assert [domain.nationality_group(n) for n in ("UA", "ua", "SY")] == ["UA", "UA", "other"]


def test_a_day_is_the_citys_calendar_day():
    late = datetime(2022, 3, 6, 23, 30, tzinfo=timezone.utc)  # 00:30 on the 7th in Dortmund
    assert domain.city_day(late) == date(2022, 3, 7)


@pytest.mark.parametrize("interval, label", [
    ("day", "2022-03-07"), ("week", "2022-W10"), ("month", "2022-03"), ("quarter", "2022-Q1"),
    ("year", "2022")])
def test_a_day_falls_in_a_period_of_each_interval(interval, label):
    assert domain.period_of(date(2022, 3, 7), interval) == label


def test_the_90th_percentile_is_the_nearest_rank():
    assert domain.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9) == 9
    assert domain.percentile([2, 4, 1], 0.9) == 4
    assert domain.percentile([], 0.9) is None
    assert domain.median([10, 25]) == 17.5


def test_suppression_withholds_small_counts_and_their_durations_and_says_so():
    rows = [{"site": "a", "referrals": 3, "median_hours": 2.0},
            {"site": "b", "referrals": 5, "median_hours": 1.0},
            {"site": "c", "referrals": 0, "median_hours": None}]
    kept = Suppression(5, "referrals", ("median_hours",)).apply(rows)
    assert kept[0] == {"site": "a", "referrals": None, "median_hours": None,
                       "suppressed": ["referrals", "median_hours"]}
    assert kept[1:] == rows[1:]
    assert Suppression(5, "referrals").marker() == "<5"


def test_a_consultation_keeps_its_dimensions_and_keys_but_no_name_or_birth_date():
    key = Keyer(b"k")
    visitor = Visitor(household=2, preferred_language="ru", interpreter="on_site")
    intake_id, envelope = visitor.consultation(at(0), site="centre")
    fact = domain.fact_of(typed(envelope), key)
    assert fact is not None and fact.kind == domain.CONSULTATION
    assert (fact.person_key, fact.intake_key) == (key("person", visitor.id),
                                                  key("intake", intake_id))
    assert dict(fact.dims) == {"site": "centre", "channel": "in_person", "nationality": "UA",
                               "nationality_group": "UA", "language": "ru",
                               "interpreter": "on_site", "household_size": "3",
                               "age_band": "27-44"}
    kept = json.dumps(dict(fact.dims))
    assert "Olena" not in kept and "1987" not in kept and str(visitor.id) not in kept


def test_every_counted_event_becomes_a_fact_of_its_kind():
    scene, key = Scene.week(), Keyer(b"k")
    kinds = [domain.fact_of(typed(e), key).kind for e in scene.events]
    assert kinds.count(domain.CONSULTATION) == 5
    assert kinds.count(domain.REFERRAL) == 9
    assert kinds.count(domain.DEADLINE_BREACH) == 1
    assert kinds.count(domain.CONSENT_WITHDRAWAL) == 1
    erasure = scene.olena.erasure_requested(at(60))
    assert domain.fact_of(typed(erasure), key).kind == domain.ERASURE


def test_a_referral_fact_keeps_the_reason_only_of_a_status_that_has_one():
    referral, key = Referral(Visitor().consultation(at(0))[0]), Keyer(b"k")
    referral.requested(at(0))
    received = domain.fact_of(typed(referral.becomes("received", at(1), reason="x")), key)
    rejected = domain.fact_of(typed(referral.becomes("rejected", at(2), reason="no_capacity")),
                              key)
    assert received.dims["reason"] is None and rejected.dims["reason"] == "no_capacity"


def test_free_text_in_a_reason_or_outcome_is_kept_as_other():
    referral, key = Referral(Visitor().consultation(at(0))[0]), Keyer(b"k")
    referral.requested(at(0))
    held = domain.fact_of(typed(referral.becomes(
        "on-hold", at(1), reason="Frau K. ist im Krankenhaus (Psychiatrie)")), key)
    done = domain.fact_of(typed(referral.becomes(
        "completed", at(2), outcome="hat Arbeit bei Fa. Müller gefunden")), key)
    coded = domain.fact_of(typed(referral.becomes(
        "on-hold", at(3), reason="waiting_for_person", outcome="case_closed")), key)
    assert held.dims["reason"] == "other" and done.dims["outcome"] == "other"
    assert (coded.dims["reason"], coded.dims["outcome"]) == ("waiting_for_person",
                                                             "case_closed")
    assert "Krankenhaus" not in json.dumps(dict(held.dims))


def test_the_contracts_reason_and_outcome_codes_are_the_referral_services():
    from services.referral.domain import Outcome, Reason
    from shared.events.vocabulary import REFERRAL_OUTCOMES, REFERRAL_REASONS

    assert REFERRAL_REASONS == tuple(r.value for r in Reason)
    assert REFERRAL_OUTCOMES == tuple(o.value for o in Outcome)
