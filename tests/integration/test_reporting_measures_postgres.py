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


def test_the_summarys_counts_in_one_pass_equal_those_counted_column_by_column(pg_settings):
    """On PostgreSQL the summary counts every dimension in one pass (GROUPING SETS): the
    same counts as a query per column, with and without filters (a referral's site joins
    its consultation)."""
    from sqlalchemy import func, select

    from services.reporting import tables as t

    deps = bootstrap(pg_settings.for_service("reporting"))
    deliver_year(Year(2022, scale=0.01).events(), deps.uow)
    c, r = t.consultations, t.referrals
    with deps.engine.connect() as conn:
        for filters in ({}, {"site": "centre"}, {"nationality_group": "UA"}):
            period = queries.Period(date(2022, 1, 1), date(2022, 12, 31), filters=filters)
            found = queries.summary(conn, period)
            for name in ("site", "channel", "language", "interpreter", "household_size",
                         "age_band"):
                expected = dict(conn.execute(
                    select(c.c[name], func.count()).where(
                        c.c.day.between(period.start, period.end),
                        *[c.c[k] == v for k, v in filters.items()]).group_by(c.c[name])).all())
                assert found["consultations"][f"by_{name}"] == {
                    str(k): n for k, n in expected.items()}, (name, filters)
            assert sum(found["consultations"]["by_visit"].values()) == \
                found["consultations"]["total"] > 0
            for name in ("partner", "service", "status", "outcome"):
                query = select(r.c[name], func.count()).select_from(
                    r.outerjoin(c, c.c.intake_key == r.c.intake_key)).where(
                    r.c.day.between(period.start, period.end),
                    *[c.c[k] == v for k, v in filters.items()]).group_by(r.c[name])
                assert found["referrals"][f"by_{name}"] == {
                    str(k): n for k, n in conn.execute(query).all()}, (name, filters)
    deps.engine.dispose()


def test_the_databases_queue_measures_equal_those_measured_in_python(pg_settings):
    """Walk-in tickets over two months at two sites, in five languages, with waits of whole
    and odd seconds, some never called: each grouping, filter and interval alike."""
    import random

    from services.reporting.domain import QUEUE_DIMENSIONS
    from services.reporting.demo_year import deliver_year
    from tests.reporting_events import Ticket, at

    deps = bootstrap(pg_settings.for_service("reporting"))
    pick = random.Random(22)
    events = []
    for i in range(300):
        ticket = Ticket(pick.choice(("centre", "infopoint")),
                        pick.choice(("uk", "ar", "de", "ro", "fa")),
                        pick.choice(("housing", "other", "living_costs")),
                        at(24 * pick.randrange(60) + pick.random() * 10), f"Z-{i % 999 + 1:03d}")
        events.append(ticket.drawn_event())
        if pick.random() < 0.85:
            events.append(ticket.called(pick.randrange(1, 5400) / 60, pick.random() < 0.2))
            if pick.random() < 0.8:
                events.append(ticket.closed(pick.choice(("served", "served", "no_show")), 15))
    deliver_year(events, deps.uow)
    with deps.engine.connect() as conn:
        for interval in INTERVALS:
            for by in ((), ("site",), ("site", "language"), ("status",),
                       ("topic", "interpreter_needed"), QUEUE_DIMENSIONS):
                for filters in ({}, {"site": "centre"}):
                    period = queries.Period(date(2022, 3, 1), date(2022, 5, 31), interval,
                                            filters)
                    names = [*by, "day"] if interval else list(by)
                    measured = queries.queue_rows(conn, period, by)
                    assert measured and measured == queries._queue_in_python(
                        conn, period, names, by), (interval, by, filters)
        empty = queries.Period(date(2031, 1, 1), date(2031, 1, 31))
        assert queries.queue_rows(conn, empty, ()) == []
        assert queries.summary(conn, empty)["queue"]["tickets"] == 0
