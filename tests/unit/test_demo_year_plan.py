"""The demo year's plan (services/reporting/demo_year.py): the review's table at scale 1,
working days only, the same events with the same ids for the same seed."""
from __future__ import annotations

from collections import Counter
from datetime import date
from itertools import islice

from services.reporting.demo_year import REVIEW, Year, apportion, working_days
from shared.clock import CITY_TIME


def test_apportion_spreads_a_total_by_weight_and_keeps_it():
    assert sorted(apportion(10, [1, 1, 1, 1])) == [2, 2, 3, 3]
    assert apportion(10, [1, 0, 1]) == [5, 0, 5]
    assert apportion(1, [1] * 20).count(1) == 1
    assert sum(apportion(4_100, [0.25, 9.0, 3.0] * 80)) == 4_100


def test_working_days_are_weekdays_without_the_regions_holidays():
    days = working_days(2022)
    assert all(d.weekday() < 5 for d in days)
    assert date(2022, 4, 15) not in days  # Good Friday
    assert date(2022, 11, 1) not in days  # All Saints
    assert date(2022, 3, 7) in days and len(days) == 252


def test_the_year_at_scale_one_is_the_reviews_table():
    planned = Counter((site, group) for _, site, group in Year(2022).consultations())
    assert planned == REVIEW and sum(planned.values()) == 32_100


def test_consultations_fall_in_opening_hours():
    hours = {m.astimezone(CITY_TIME).hour for m, _, _ in Year(2022, scale=0.01).consultations()}
    assert min(hours) >= 8 and max(hours) < 16


def test_the_same_seed_gives_the_same_events_and_another_seed_others():
    def first(seed: int) -> list[tuple[str, str]]:
        return [(e.id, e.to_json()) for e in islice(Year(2022, seed=seed, scale=0.01).events(),
                                                    200)]
    assert first(7) == first(7)
    assert {i for i, _ in first(7)}.isdisjoint(i for i, _ in first(8))
