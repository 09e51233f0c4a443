"""Referral figures on PostgreSQL are measured by the database (queries._measured_in_database):
over a demo year they equal what the Python path measures from every referral, for each
grouping, filter and interval (the periods labelled alike), and the summary's."""
from __future__ import annotations

from datetime import date

import pytest

from services.reporting import queries
from services.reporting.bootstrap import bootstrap
from services.reporting.demo_year import Year, deliver_year

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
GROUPINGS = ((), ("partner",), ("partner", "status"), ("site", "nationality_group"),
             ("service", "outcome", "rerouted"), ("need",))
FILTERS = ({}, {"site": "centre"}, {"partner": "welfare"}, {"nationality_group": "UA"})
INTERVALS = (None, "day", "week", "month", "quarter", "year")


def in_python(conn, period, by):
    names = [*by, "day"] if period.interval else list(by)
    return queries._grouped(queries._referrals(conn, period, names), by, period.interval)


def test_the_databases_referral_measures_equal_those_measured_in_python(pg_settings):
    deps = bootstrap(pg_settings.for_service("reporting"))
    deliver_year(Year(2022, scale=0.01).events(), deps.uow)
    with deps.engine.connect() as conn:
        for interval in INTERVALS:
            for by in GROUPINGS:
                for filters in FILTERS:
                    period = queries.Period(date(2021, 12, 1), date(2023, 1, 31), interval,
                                            filters)
                    measured = queries.referral_rows(conn, period, by)
                    assert measured and measured == in_python(conn, period, by), \
                        (interval, by, filters)
        march = queries.Period(date(2022, 3, 1), date(2022, 3, 31))
        summary = queries.summary(conn, march)["referrals"]
        assert {k: v for k, v in summary.items() if not k.startswith("by_")} == \
            in_python(conn, march, ())[0]
        empty = queries.Period(date(2031, 1, 1), date(2031, 1, 31))
        assert queries.referral_rows(conn, empty, ()) == [] == in_python(conn, empty, ())
        assert queries.summary(conn, empty)["referrals"]["referrals"] == 0
