"""The walk-in queue's rules (services/intake/walk_in.py): numbers, statuses, who is called
next by the languages staff speak, and the interpreter fallback."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from services.intake.walk_in import (INTERPRETER_AFTER, DrawLimit, NumbersRunOut, QueueError,
                                     Ticket, TicketStatus, TransitionRefused, check_draw,
                                     choose_next, day_over, left_behind, next_seq,
                                     parse_languages, staff_speaks, ticket_number)

NINE = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def ticket(seq: int, language: str, minutes_ago: int, now: datetime = NINE) -> Ticket:
    return Ticket(f"t{seq}", "centre", date(2026, 3, 2), seq, language, "housing",
                  TicketStatus.WAITING, now - timedelta(minutes=minutes_ago))


def test_a_number_is_the_sites_letter_and_the_days_running_number():
    assert ticket_number("centre", 17) == "Z-017"
    assert ticket_number("infopoint", 3) == "I-003"
    assert ticket(5, "uk", 0).number == "Z-005"


def test_the_days_numbers_run_on_and_stop_at_the_days_limit():
    assert next_seq(0) == 1 and next_seq(41) == 42
    with pytest.raises(NumbersRunOut) as refused:
        next_seq(999)
    assert refused.value.field == "site" and isinstance(refused.value, QueueError)


@pytest.mark.parametrize("site, language, topic, field", [
    ("moon", "uk", "housing", "site"),
    ("centre", "Ukrainian", "housing", "language"),
    ("centre", "xx", "housing", "language"),
    ("centre", "uk", "tea", "topic"),
])
def test_a_draw_is_refused_naming_the_field(site, language, topic, field):
    with pytest.raises(QueueError) as refused:
        check_draw(site, language, topic)
    assert refused.value.field == field


def test_a_good_draw_passes():
    check_draw("infopoint", "prs", "other")


def test_a_ticket_moves_waiting_called_then_served_or_no_show():
    waiting = ticket(1, "uk", 5)
    called = waiting.moved_to(TicketStatus.CALLED, NINE, "anna", staff_speaks(["uk"]))
    assert (called.status, called.called_by, called.called_at) == (
        TicketStatus.CALLED, "anna", NINE)
    assert not called.interpreter_needed
    later = NINE + timedelta(minutes=12)
    assert called.moved_to(TicketStatus.SERVED, later).closed_at == later
    assert called.moved_to(TicketStatus.NO_SHOW, later).status is TicketStatus.NO_SHOW


@pytest.mark.parametrize("status, wanted", [
    (TicketStatus.WAITING, TicketStatus.SERVED),
    (TicketStatus.WAITING, TicketStatus.NO_SHOW),
    (TicketStatus.CALLED, TicketStatus.CALLED),
    (TicketStatus.SERVED, TicketStatus.CALLED),
    (TicketStatus.SERVED, TicketStatus.NO_SHOW),
    (TicketStatus.NO_SHOW, TicketStatus.SERVED),
])
def test_a_move_its_status_does_not_allow_is_refused(status, wanted):
    t = Ticket("t", "centre", date(2026, 3, 2), 1, "uk", "housing", status, NINE)
    with pytest.raises(TransitionRefused) as refused:
        t.moved_to(wanted, NINE)
    assert "Z-001" in str(refused.value) and status.value in str(refused.value)


def test_waiting_minutes_count_until_called():
    t = ticket(1, "ar", 14)
    assert t.waiting_minutes(NINE) == 14
    called = t.moved_to(TicketStatus.CALLED, NINE - timedelta(minutes=4), "anna")
    assert called.waiting_minutes(NINE + timedelta(hours=1)) == 10


def test_german_is_spoken_by_all_english_only_if_in_the_account():
    assert staff_speaks([]) == {"de"}
    assert staff_speaks(["en", "uk"]) == {"de", "en", "uk"}


def test_next_is_the_longest_waiting_ticket_in_a_language_the_caller_speaks():
    queue = [ticket(1, "ar", 15), ticket(2, "uk", 10), ticket(3, "de", 8), ticket(4, "uk", 2)]
    assert choose_next(queue, staff_speaks(["uk"]), NINE).seq == 2
    assert choose_next(queue, staff_speaks([]), NINE).seq == 3
    assert choose_next(queue, staff_speaks(["ar", "uk"]), NINE).seq == 1


def test_nothing_to_call_when_nobody_waits_in_the_callers_languages():
    assert choose_next([ticket(1, "ti", 3)], staff_speaks(["en"]), NINE) is None
    assert choose_next([], staff_speaks(["en"]), NINE) is None


def test_a_ticket_waiting_long_is_called_for_anyone_as_needing_an_interpreter():
    long = ticket(1, "ti", int(INTERPRETER_AFTER.total_seconds() // 60))
    queue = [long, ticket(2, "uk", 3)]
    chosen = choose_next(queue, staff_speaks(["uk"]), NINE)
    assert chosen is long
    called = chosen.moved_to(TicketStatus.CALLED, NINE, "anna", staff_speaks(["uk"]))
    assert called.interpreter_needed


def test_ties_go_to_the_lower_number():
    a, b = ticket(2, "uk", 5), ticket(1, "uk", 5)
    assert choose_next([a, b], staff_speaks(["uk"]), NINE) is b


def test_account_languages_are_read_as_iso_codes():
    assert parse_languages("EN, uk ru,uk") == ("en", "uk", "ru")
    assert parse_languages("") == ()
    with pytest.raises(QueueError) as refused:
        parse_languages("en, Ukrainisch")
    assert refused.value.field == "languages" and "ukrainisch" in refused.value.message


def test_a_tickets_event_says_its_latest_move_and_its_wait():
    waiting = Ticket("00000000-0000-0000-0000-000000000001", "centre", date(2026, 3, 2), 4,
                     "ti", "other", TicketStatus.WAITING, NINE)
    assert waiting.event().type == "queue.ticket_drawn"
    called = waiting.moved_to(TicketStatus.CALLED, NINE + timedelta(minutes=21), "anna")
    event = called.event()
    assert (event.type, event.waited_seconds, event.interpreter_needed) == (
        "queue.ticket_called", 21 * 60, True)
    assert "anna" not in str(event.data())
    closed = called.moved_to(TicketStatus.NO_SHOW, NINE + timedelta(minutes=30)).event()
    assert (closed.type, closed.status, closed.number) == ("queue.ticket_closed", "no_show",
                                                           "Z-004")


def test_the_kiosks_draw_limit_counts_per_client_and_per_site_within_a_minute():
    limit = DrawLimit(per_client=2, per_site=3)
    assert limit.allow("centre", ["a"], NINE) and limit.allow("centre", ["a"], NINE)
    assert not limit.allow("centre", ["a"], NINE + timedelta(seconds=59))
    assert limit.allow("centre", ["b"], NINE)  # the site's third
    assert not limit.allow("centre", ["c"], NINE)  # the site's fourth in the minute
    assert limit.allow("infopoint", ["c"], NINE)
    assert limit.allow("centre", ["a"], NINE + timedelta(minutes=1))  # a minute on


def test_a_day_is_over_at_the_citys_next_midnight():
    assert day_over(date(2026, 3, 2)) == datetime(2026, 3, 2, 23, 0, tzinfo=timezone.utc)
    assert day_over(date(2026, 7, 2)) == datetime(2026, 7, 2, 22, 0, tzinfo=timezone.utc)


def test_tickets_left_open_when_their_day_is_over_are_closed_as_left():
    waiting, today = ticket(1, "ti", 30), ticket(2, "uk", 5, NINE + timedelta(days=1))
    today = replace(today, day=date(2026, 3, 3))
    called = ticket(3, "uk", 20).moved_to(TicketStatus.CALLED, NINE, "anna")
    served = ticket(4, "uk", 20).moved_to(TicketStatus.CALLED, NINE, "anna").moved_to(
        TicketStatus.SERVED, NINE)
    evening = datetime(2026, 3, 2, 22, 59, tzinfo=timezone.utc)
    assert left_behind([waiting, called, served], evening) == []  # not over yet
    morning = datetime(2026, 3, 3, 7, 0, tzinfo=timezone.utc)
    left = left_behind([waiting, today, called, served], morning)
    assert [(t.seq, t.status, t.closed_at) for t in left] == [
        (1, TicketStatus.LEFT, day_over(date(2026, 3, 2))),
        (3, TicketStatus.LEFT, day_over(date(2026, 3, 2)))]
    never_called, after_call = (replace(t, id=f"00000000-0000-0000-0000-00000000000{t.seq}")
                                .event() for t in left)
    assert (never_called.type, never_called.version, never_called.status) == (
        "queue.ticket_closed", 2, "left")
    assert (never_called.called_at, never_called.waited_seconds,
            never_called.interpreter_needed) == (None, None, None)
    assert (after_call.status, after_call.waited_seconds) == ("left", 20 * 60)
    with pytest.raises(TransitionRefused):
        served.moved_to(TicketStatus.LEFT, morning)
