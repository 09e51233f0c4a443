"""Each figure of issue 21 from a known set of events (tests/reporting_events.py Scene.week):
the reporting handler takes them through the fake unit of work, the figures are read back.

The week of 7 March 2022: Olena (UA, 34, household of three) comes twice to the info point,
Ahmad (SY, 21, Arabic, video interpreter) and Ioana (RO, 72, household of seven, by phone)
once each to the centre; Ahmad comes back in April. Olena's referral to the welfare
association is acknowledged after 2 h and accepted after 10 h; Ahmad's living costs go to the
Jobcenter (breaching its acknowledgement deadline, rejected after 4 h) and are re-routed to the
Sozialamt (acknowledged after 1 h, completed after 25 h); Ioana's wait on hold for a fact.
"""
from __future__ import annotations

import random
from datetime import date

import pytest

from services.reporting import handlers, queries
from services.reporting import tables as t
from tests.reporting_events import Scene, Ticket, Visitor, at

WEEK = queries.Period(date(2022, 3, 7), date(2022, 3, 13))


def take(uow, events) -> None:
    with uow:
        for envelope in events:
            handlers.record(envelope, uow)
        uow.commit()


@pytest.fixture
def scene(reporting_uow):
    s = Scene.week()
    take(reporting_uow, s.events)
    return s


def conn(uow):
    return uow.session.connection()


def counts(uow, by: str, period=WEEK) -> dict:
    return {r[by]: r["consultations"]
            for r in queries.consultation_rows(conn(uow), period, [by])}


@pytest.mark.parametrize("by, expected", [
    ("site", {"infopoint": 2, "centre": 2}),
    ("nationality_group", {"UA": 2, "other": 2}),
    ("nationality", {"UA": 2, "SY": 1, "RO": 1}),
    ("channel", {"in_person": 3, "phone": 1}),
    ("language", {"uk": 2, "ar": 1, "ro": 1}),
    ("interpreter", {"none": 3, "video": 1}),
    ("visit", {"new": 3, "returning": 1}),
    ("household_size", {"3": 2, "1": 1, "6+": 1}),
    ("age_band", {"27-44": 2, "18-26": 1, "65+": 1}),
])
def test_consultations_by_each_dimension(scene, reporting_uow, by, expected):
    assert counts(reporting_uow, by) == expected


def test_the_reviews_table_site_by_nationality_group(scene, reporting_uow):
    rows = queries.consultation_rows(conn(reporting_uow), WEEK, ["site", "nationality_group"])
    assert rows == [{"site": "centre", "nationality_group": "other", "consultations": 2},
                    {"site": "infopoint", "nationality_group": "UA", "consultations": 2}]


def test_consultations_by_period_of_each_interval(scene, reporting_uow):
    year = queries.Period(date(2022, 1, 1), date(2022, 12, 31), "month")
    assert queries.consultation_rows(conn(reporting_uow), year, []) == [
        {"period": "2022-03", "consultations": 4}, {"period": "2022-04", "consultations": 1}]
    weeks = queries.Period(date(2022, 1, 1), date(2022, 12, 31), "week")
    assert [r["period"] for r in queries.consultation_rows(conn(reporting_uow), weeks, [])] \
        == ["2022-W10", "2022-W14"]
    days = queries.Period(date(2022, 3, 7), date(2022, 3, 9), "day")
    assert queries.consultation_rows(conn(reporting_uow), days, ["visit"]) == [
        {"period": "2022-03-07", "visit": "new", "consultations": 3},
        {"period": "2022-03-09", "visit": "returning", "consultations": 1}]


def test_a_filter_narrows_the_consultations(scene, reporting_uow):
    centre = queries.Period(WEEK.start, WEEK.end, filters={"site": "centre"})
    assert queries.consultation_rows(conn(reporting_uow), centre, ["nationality"]) == [
        {"nationality": "RO", "consultations": 1}, {"nationality": "SY", "consultations": 1}]


def test_referrals_by_partner_status_and_outcome(scene, reporting_uow):
    def by(name):
        return {r[name]: r["referrals"]
                for r in queries.referral_rows(conn(reporting_uow), WEEK, [name])}
    assert by("partner") == {"welfare": 1, "jobcenter": 1, "sozialamt": 1, None: 1}
    assert by("service") == {"mbe": 1, "sgb2": 1, "asylblg": 1, None: 1}
    assert by("status") == {"accepted": 1, "rejected": 1, "completed": 1, "on-hold": 1}
    assert by("outcome") == {"application_filed": 1, None: 3}
    assert by("rerouted") == {False: 3, True: 1}
    assert by("site") == {"infopoint": 1, "centre": 3}  # their consultations' site
    assert by("nationality_group") == {"UA": 1, "other": 3}


def test_a_site_filter_narrows_the_referrals_to_their_consultations_site(scene,
                                                                         reporting_uow):
    infopoint = queries.Period(WEEK.start, WEEK.end, filters={"site": "infopoint"})
    assert [(r["partner"], r["referrals"]) for r in queries.referral_rows(
        conn(reporting_uow), infopoint, ["partner"])] == [("welfare", 1)]
    summary = queries.summary(conn(reporting_uow), infopoint)
    assert summary["referrals"]["by_partner"] == {"welfare": 1}
    assert summary["consultations"]["total"] == 2


def test_times_to_acknowledgement_and_acceptance(scene, reporting_uow):
    [total] = queries.referral_rows(conn(reporting_uow), WEEK, [])
    assert total == {"referrals": 4, "reroutes": 1,
                     "median_hours_to_acknowledgement": 2.0,  # of 2, 4 and 1 hours
                     "p90_hours_to_acknowledgement": 4.0,
                     "median_hours_to_acceptance": 17.5,  # of 10 and 25 hours
                     "p90_hours_to_acceptance": 25.0}


def test_breaches_holds_withdrawals_and_erasures_are_counted(scene, reporting_uow):
    take(reporting_uow, [scene.ioana.erasure_requested(at(70), [scene.intakes["ioana"]])])
    summary = queries.summary(conn(reporting_uow), WEEK)
    assert summary["deadline_breaches"] == {"acknowledgement": 1}
    assert summary["on_hold_reasons"] == {"fact_missing": 1}
    assert summary["consent_withdrawals"] == 1
    assert summary["erasures"] == 1
    assert summary["consultations"]["total"] == 4  # the erased person's still counted
    assert summary["consultations"]["top_nationalities"][0] == {"nationality": "UA",
                                                                "consultations": 2}
    assert summary["referrals"]["by_partner"]["jobcenter"] == 1


def test_the_figures_do_not_depend_on_the_order_events_arrive_in(scene, reporting_uow):
    def figures():
        return ({by: counts(reporting_uow, by) for by in ("site", "visit", "age_band")},
                queries.referral_rows(conn(reporting_uow), WEEK, ["status", "rerouted"]),
                queries.summary(conn(reporting_uow), WEEK))
    in_order = figures()
    with reporting_uow:
        for table in (*t.FIGURE_TABLES, t.facts):
            reporting_uow.session.execute(table.delete())
        reporting_uow.commit()
    shuffled = list(scene.events)
    random.Random(21).shuffle(shuffled)
    take(reporting_uow, shuffled)
    assert figures() == in_order


def test_a_later_consultation_of_someone_seen_before_is_returning_even_if_it_came_first(
        reporting_uow):
    visitor = Visitor()
    _, first = visitor.consultation(at(0))
    _, second = visitor.consultation(at(24))
    take(reporting_uow, [second, first])
    assert counts(reporting_uow, "visit") == {"new": 1, "returning": 1}


def test_a_fact_never_holds_a_name_or_an_id(scene, reporting_uow):
    rows = reporting_uow.session.execute(t.facts.select()).all()
    text = " ".join(str(tuple(r)) for r in rows)
    assert "Olena" not in text and "Kovalenko" not in text and "1987-03-14" not in text
    for ids in (scene.intakes.values(), [r.id for r in scene.referrals.values()],
                [scene.olena.id, scene.ahmad.id]):
        assert not any(str(i) in text for i in ids)


# --- walk-in tickets (Scene.queue_day): at the info point waits of 10 (served) and 30
# minutes (no-show, an interpreter needed), at the centre of 5 (served) and 20 (still called)
# and one still waiting -------------------------------------------------------------------

def queue(uow, by, period=WEEK) -> list[dict]:
    return queries.queue_rows(conn(uow), period, by)


def test_walk_in_tickets_per_site_with_their_waits(scene, reporting_uow):
    assert queue(reporting_uow, ["site"]) == [
        {"site": "centre", "tickets": 3, "served": 1, "no_shows": 0,
         "median_wait_minutes": 12.5, "p90_wait_minutes": 20.0},  # of 5 and 20
        {"site": "infopoint", "tickets": 2, "served": 1, "no_shows": 1,
         "median_wait_minutes": 20.0, "p90_wait_minutes": 30.0}]  # of 10 and 30
    assert queue(reporting_uow, []) == [
        {"tickets": 5, "served": 2, "no_shows": 1,
         "median_wait_minutes": 15.0,  # of 5, 10, 20 and 30: the middle two's mean
         "p90_wait_minutes": 30.0}]  # nearest rank: the 4th of 4


@pytest.mark.parametrize("by, expected", [
    ("status", {"served": 2, "no_show": 1, "called": 1, "waiting": 1}),
    ("language", {"uk": 2, "ar": 1, "ro": 1, "de": 1}),
    ("topic", {"orientation_counselling": 1, "housing": 1, "living_costs": 1, "other": 2}),
    ("interpreter_needed", {False: 3, True: 1, None: 1}),  # none until called
])
def test_walk_in_tickets_by_each_dimension(scene, reporting_uow, by, expected):
    assert {r[by]: r["tickets"] for r in queue(reporting_uow, [by])} == expected


def test_walk_in_tickets_by_period_and_filtered_by_site(scene, reporting_uow):
    days = queries.Period(date(2022, 3, 1), date(2022, 3, 31), "day", {"site": "infopoint"})
    assert queue(reporting_uow, ["language"], days) == [
        {"period": "2022-03-07", "language": "ar", "tickets": 1, "served": 0, "no_shows": 1,
         "median_wait_minutes": 30.0, "p90_wait_minutes": 30.0},
        {"period": "2022-03-07", "language": "uk", "tickets": 1, "served": 1, "no_shows": 0,
         "median_wait_minutes": 10.0, "p90_wait_minutes": 10.0}]
    assert queue(reporting_uow, [], queries.Period(date(2022, 3, 8), date(2022, 3, 31))) == []


def test_the_summary_has_a_queue_section(scene, reporting_uow):
    summary = queries.summary(conn(reporting_uow), WEEK)
    assert summary["queue"] == {
        "tickets": 5, "median_wait_minutes": 15.0, "p90_wait_minutes": 30.0,
        "by_status": {"served": 2, "no_show": 1, "called": 1, "waiting": 1},
        "by_site": {"infopoint": 2, "centre": 3},
        "by_language": {"uk": 2, "ar": 1, "ro": 1, "de": 1}, "interpreter_needed": 1}
    centre = queries.Period(WEEK.start, WEEK.end, filters={"site": "centre",
                                                           "partner": "welfare"})
    assert queries.summary(conn(reporting_uow), centre)["queue"]["by_site"] == {"centre": 3}


def test_a_ticket_drawn_late_in_the_evening_counts_on_the_citys_day(reporting_uow):
    """23:30 UTC on Sunday 6 March is 00:30 on Monday in Dortmund."""
    late = Ticket("centre", "uk", "other", at(-8.5))
    take(reporting_uow, [late.drawn_event()])
    assert [r["tickets"] for r in queue(reporting_uow, [])] == [1]
    assert queue(reporting_uow, [], queries.Period(date(2022, 3, 6), date(2022, 3, 6))) == []


@pytest.mark.parametrize("seed", range(6))
def test_a_tickets_status_is_the_furthest_its_events_tell_in_any_order(reporting_uow, seed):
    """Closed before called before drawn, or any other order, one at a time or in a batch:
    the same rows."""
    ticket = Ticket("infopoint", "ar", "housing", at(0))
    events = [ticket.drawn_event(), ticket.called(25, interpreter_needed=True),
              ticket.closed("served", 10)]
    random.Random(seed).shuffle(events)
    if seed % 2:
        take(reporting_uow, events)
    else:
        with reporting_uow:
            handlers.record_batch(events, reporting_uow)
            reporting_uow.commit()
    [row] = reporting_uow.session.execute(t.queue_tickets.select()).all()
    assert (row.status, row.waited_seconds, row.interpreter_needed, row.day) == (
        "served", 1500, True, date(2022, 3, 7))
    assert queue(reporting_uow, ["status"]) == [
        {"status": "served", "tickets": 1, "served": 1, "no_shows": 0,
         "median_wait_minutes": 25.0, "p90_wait_minutes": 25.0}]


def test_a_ticket_fact_keeps_no_ticket_id_number_or_intake(scene, reporting_uow):
    rows = reporting_uow.session.execute(t.facts.select().where(
        t.facts.c.kind.like("queue_ticket%"))).all()
    assert len(rows) == 12
    text = " ".join(str(tuple(r)) for r in rows)
    for ticket in scene.tickets.values():
        assert str(ticket.id) not in text
    assert "I-001" not in text and str(scene.intakes["olena1"]) not in text
    assert {r.intake_key for r in rows} == {None} and {r.person_key for r in rows} == {None}


def test_tickets_left_without_being_served_are_counted_as_left(reporting_uow):
    """Closed by the intake service when their day was over: one never called (no wait),
    one called after 15 minutes; a ticket closed by a v1 event (before tickets could be
    left) counts as before."""
    never = Ticket("centre", "uk", "other", at(0))
    called = Ticket("centre", "ar", "housing", at(0.5), "Z-002")
    old = Ticket("centre", "uk", "housing", at(1), "Z-003")
    midnight = at(15)  # 23:00 UTC: the city's day over
    take(reporting_uow, [never.left(midnight), never.drawn_event(),
                         called.drawn_event(), called.called(15), called.left(midnight),
                         old.drawn_event(), old.called(5), old.closed("no_show", 3, version=1)])
    assert {r["status"]: r["tickets"] for r in queue(reporting_uow, ["status"])} == {
        "left": 2, "no_show": 1}
    assert queue(reporting_uow, []) == [
        {"tickets": 3, "served": 0, "no_shows": 1, "median_wait_minutes": 10.0,
         "p90_wait_minutes": 15.0}]  # of 5 and 15 minutes: the never called has none
    assert queries.summary(conn(reporting_uow), WEEK)["queue"]["by_status"] == {
        "left": 2, "no_show": 1}
