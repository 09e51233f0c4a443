"""The walk-in queue's use cases on its table: draw, list, call (a ticket or the next one),
close, and close the tickets a past day left open (as left). Each change opens one unit of
work and commits once, its event (queue.ticket_drawn, _called, _closed) in the outbox with
it; the rules are walk_in.py's.

Two staff calling "next" at once never get the same ticket: the call is a conditional UPDATE
(`WHERE id = … AND status = 'waiting'`), and whoever's UPDATE finds the ticket no longer
waiting chooses again among the rest. On SQLite the transaction takes the write lock at
BEGIN (shared/db.py), so the two run one after the other; on PostgreSQL the second UPDATE
waits for the first's row lock and then matches nothing. Numbers are unique per site and day
(a unique constraint; on PostgreSQL draws at a site also wait for each other): two tickets
drawn at once, the second to commit would draw again.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import date, datetime
from typing import Callable, Sequence

from sqlalchemy import Row, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.intake.tables import accounts, intakes, queue_tickets
from services.intake.walk_in import (OPEN, QueueError, Ticket, TicketStatus, check_draw,
                                     choose_next, left_behind, next_seq, staff_speaks)
from shared.clock import CITY_TIME
from shared.retention import Purge
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
Sessions = sessionmaker[Session]
UnitsOfWork = Callable[[], UnitOfWork]
Clock = Callable[[], datetime]
DRAW_ATTEMPTS = 5
CALL_ATTEMPTS = 20


class TicketNotFound(LookupError):
    pass


def _ticket(row: Row) -> Ticket:
    m = row._mapping
    return Ticket(m["id"], m["site"], m["day"], m["seq"], m["language"], m["topic"],
                  TicketStatus(m["status"]), m["drawn_at"], m["called_at"], m["called_by"],
                  m["closed_at"], bool(m["interpreter_needed"]), m["intake_id"])


def city_day(at: datetime) -> date:
    return at.astimezone(CITY_TIME).date()


def draw(uows: UnitsOfWork, now: Clock, site: str, language: str, topic: str) -> Ticket:
    """A new waiting ticket with the site's next number of the day."""
    check_draw(site, language, topic)
    for attempt in range(DRAW_ATTEMPTS):
        at = now()
        day = city_day(at)
        with uows() as uow:
            s = uow.session
            _one_draw_at_a_time(s, site, day)
            used = s.execute(select(func.coalesce(func.max(queue_tickets.c.seq), 0)).where(
                queue_tickets.c.site == site, queue_tickets.c.day == day)).scalar_one()
            ticket = Ticket(str(uuid.uuid4()), site, day, next_seq(used), language, topic,
                            TicketStatus.WAITING, at)
            try:  # SQLite refuses a taken number at the INSERT, PostgreSQL may at COMMIT
                s.execute(queue_tickets.insert().values(_values(ticket)))
                uow.publish(ticket.event())
                uow.commit()
            except IntegrityError:  # drawn at the same moment: the number was taken
                if attempt == DRAW_ATTEMPTS - 1:
                    raise
                continue
            return ticket
    raise AssertionError("unreachable")


def _one_draw_at_a_time(s: Session, site: str, day: date) -> None:
    """Draws at one site wait for each other until the first committed (PostgreSQL: a
    transaction-scoped advisory lock), so a busy morning does not spend its draws on
    retries; SQLite takes its write lock at BEGIN already. The unique constraint stays the
    guarantee."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                  {"key": f"queue|{site}|{day.isoformat()}"})


def _values(t: Ticket) -> dict:
    return dict(id=t.id, site=t.site, day=t.day, seq=t.seq, language=t.language,
                topic=t.topic, status=t.status.value, drawn_at=t.drawn_at,
                called_at=t.called_at, called_by=t.called_by, closed_at=t.closed_at,
                interpreter_needed=t.interpreter_needed, intake_id=t.intake_id)


def open_tickets(sessions: Sessions, site: str, day: date | None = None) -> list[Ticket]:
    """The site's waiting and called tickets, longest waiting first (of `day`, if given)."""
    with sessions() as s:
        query = select(queue_tickets).where(
            queue_tickets.c.site == site,
            queue_tickets.c.status.in_([st.value for st in OPEN]))
        if day is not None:
            query = query.where(queue_tickets.c.day == day)
        rows = s.execute(query.order_by(queue_tickets.c.drawn_at, queue_tickets.c.seq)).all()
    return [_ticket(r) for r in rows]


def recently_called(sessions: Sessions, site: str, day: date, limit: int = 8) -> list[Ticket]:
    """What the waiting room's display shows: the day's called tickets, latest first."""
    with sessions() as s:
        rows = s.execute(select(queue_tickets).where(
            queue_tickets.c.site == site, queue_tickets.c.day == day,
            queue_tickets.c.status == TicketStatus.CALLED.value)
            .order_by(queue_tickets.c.called_at.desc(), queue_tickets.c.seq.desc())
            .limit(limit)).all()
    return [_ticket(r) for r in rows]


def get(sessions: Sessions, ticket_id: str) -> Ticket:
    with sessions() as s:
        return _get(s, ticket_id)


def _get(s: Session, ticket_id: str) -> Ticket:
    row = s.execute(select(queue_tickets).where(queue_tickets.c.id == ticket_id)).first()
    if row is None:
        raise TicketNotFound(ticket_id)
    return _ticket(row)


def languages_of(s: Session, username: str) -> tuple[str, ...]:
    """The languages an account consults in besides German (none for an unknown account,
    e.g. an OpenID Connect user without a local account)."""
    found = s.execute(select(accounts.c.languages)
                      .where(accounts.c.username == username)).scalar()
    return tuple(found or ())


def _move(s: Session, current: Ticket, moved: Ticket) -> bool:
    """Write the move if the ticket is still as read: False when someone else moved it."""
    done = s.execute(queue_tickets.update().where(
        queue_tickets.c.id == current.id, queue_tickets.c.status == current.status.value)
        .values(status=moved.status.value, called_at=moved.called_at,
                called_by=moved.called_by, closed_at=moved.closed_at,
                interpreter_needed=moved.interpreter_needed, intake_id=moved.intake_id))
    return done.rowcount == 1


def call(uows: UnitsOfWork, now: Clock, ticket_id: str, staff: str) -> Ticket:
    """Call this ticket (TransitionRefused unless it waits)."""
    return _transition(uows, now, ticket_id, TicketStatus.CALLED, staff)


def close(uows: UnitsOfWork, now: Clock, ticket_id: str, status: TicketStatus,
          intake_id: str | None = None) -> Ticket:
    """Served or no-show (TransitionRefused unless it was called); a served ticket may name
    the consultation recorded for it."""
    return _transition(uows, now, ticket_id, status, None, intake_id)


def _transition(uows: UnitsOfWork, now: Clock, ticket_id: str, status: TicketStatus,
                staff: str | None, intake_id: str | None = None) -> Ticket:
    with uows() as uow:
        s = uow.session
        current = _get(s, ticket_id)
        speaks = staff_speaks(languages_of(s, staff)) if staff else frozenset()
        moved = current.moved_to(status, now(), staff, speaks)
        if intake_id is not None:
            _check_intake(s, intake_id)
            moved = replace(moved, intake_id=intake_id)
        if not _move(s, current, moved):
            uow.rollback()
            # moved meanwhile by someone else: refused as from its status now
            return _get(s, ticket_id).moved_to(status, now(), staff, speaks)
        uow.publish(moved.event())
        uow.commit()
        return moved


def _check_intake(s: Session, intake_id: str) -> None:
    if s.execute(select(intakes.c.id).where(intakes.c.id == intake_id)).first() is None:
        raise QueueError("intake_id", "no intake with this id")


def call_next(uows: UnitsOfWork, now: Clock, site: str, staff: str) -> Ticket | None:
    """Call the longest-waiting ticket of the day at `site` that `staff` can serve (walk_in
    .choose_next); None when there is none."""
    check_draw(site, "de", "other")
    taken: set[str] = set()
    for _ in range(CALL_ATTEMPTS):
        with uows() as uow:
            s = uow.session
            at = now()
            speaks = staff_speaks(languages_of(s, staff))
            waiting = [t for t in _waiting(s, site, city_day(at)) if t.id not in taken]
            chosen = choose_next(waiting, speaks, at)
            if chosen is None:
                return None
            moved = chosen.moved_to(TicketStatus.CALLED, at, staff, speaks)
            if _move(s, chosen, moved):
                uow.publish(moved.event())
                uow.commit()
                return moved
            uow.rollback()
            taken.add(chosen.id)  # another desk called it first: choose among the rest
    return None


def _waiting(s: Session, site: str, day: date) -> Sequence[Ticket]:
    rows = s.execute(select(queue_tickets).where(
        queue_tickets.c.site == site, queue_tickets.c.day == day,
        queue_tickets.c.status == TicketStatus.WAITING.value)
        .order_by(queue_tickets.c.drawn_at, queue_tickets.c.seq).limit(500)).all()
    return [_ticket(r) for r in rows]


LEFT_AT_ONCE = 500  # tickets closed as left per transaction


def close_left_behind(uows: UnitsOfWork, now: datetime) -> int:
    """Close the tickets still waiting or called on a day that is over as left without
    being served (walk_in.left_behind), each with its queue.ticket_closed event; returns how
    many. Run by the intake service's daily work (its retention run, retention.py). A
    ticket someone moved meanwhile is left as they moved it (the conditional UPDATE)."""
    closed = 0
    while True:
        with uows() as uow:
            s = uow.session
            rows = s.execute(select(queue_tickets).where(
                queue_tickets.c.status.in_([st.value for st in OPEN]),
                queue_tickets.c.day < city_day(now))
                .order_by(queue_tickets.c.drawn_at, queue_tickets.c.id)
                .limit(LEFT_AT_ONCE)).all()
            found = [_ticket(r) for r in rows]
            by_id = {t.id: t for t in found}
            for moved in left_behind(found, now):
                if _move(s, by_id[moved.id], moved):
                    uow.publish(moved.event())
                    closed += 1
            uow.commit()
        if len(rows) < LEFT_AT_ONCE:
            return closed


def closing_left_behind(uows: UnitsOfWork, purge: Purge) -> Purge:
    """The tickets' retention purge, run daily, closing the past days' open tickets as left
    first (not in a dry run): the intake service's daily work, so no ticket stays open for
    longer than a day after its own (nor is deleted still open)."""
    def apply(cutoff: datetime, now: datetime, dry_run: bool) -> int:
        if not dry_run:
            left = close_left_behind(uows, now)
            if left:
                log.info("walk-in tickets of past days closed as left", extra={"count": left})
        return purge.apply(cutoff, now, dry_run)
    return Purge(purge.measured_from, purge.action, apply)


def set_languages(s: Session, username: str, languages: Sequence[str]) -> None:
    """The account's languages (the caller commits); QueueError if there is no account."""
    done = s.execute(accounts.update().where(accounts.c.username == username)
                     .values(languages=list(languages)))
    if done.rowcount != 1:
        raise QueueError("username", "no such account")
