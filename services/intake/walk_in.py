"""The walk-in queue's rules: tickets, their numbers, their statuses and who is called next.

Plain domain code (no Flask, no SQLAlchemy). A ticket holds no name: a site, a number for
the day, the language the visitor chose and a topic. Who speaks what: every staff member is
taken to speak German (the centre's working language); any other language, English too,
only if it is in their account. A ticket nobody present speaks the language of is not left
waiting for ever: once it has waited INTERPRETER_AFTER, any staff member may call it, and
it is called as needing an interpreter. Nor is a ticket left open for ever: one still
waiting or called when its day is over (the city's) is closed as left without being served.
"""
from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Iterable, Sequence

from shared.clock import CITY_TIME
from shared.events.model import QueueTicketCalledV1, QueueTicketClosedV2, QueueTicketDrawnV1
from shared.reference import NEEDS, SITES, is_language

SPOKEN_BY_ALL = frozenset({"de"})
INTERPRETER_AFTER = timedelta(minutes=20)
OTHER_TOPIC = "other"
TOPICS = (*(n.code for n in NEEDS), OTHER_TOPIC)
# A letter per site, so a number called at the info point is never taken for the centre's.
SITE_LETTERS = {"infopoint": "I", "centre": "Z", "outreach": "M"}
MAX_PER_DAY = 999


class TicketStatus(str, Enum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    NO_SHOW = "no_show"
    LEFT = "left"  # still waiting or called when its day was over: left without being served


OPEN = (TicketStatus.WAITING, TicketStatus.CALLED)


class QueueError(ValueError):
    """Input the queue refuses; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class NumbersRunOut(QueueError):
    """The site has drawn all the numbers a day has (MAX_PER_DAY)."""


class TransitionRefused(Exception):
    """A ticket asked to move where its status does not allow (called twice, served before
    it was called)."""

    def __init__(self, number: str, status: TicketStatus, wanted: TicketStatus):
        super().__init__(f"ticket {number} is {status.value}; it cannot become {wanted.value}")
        self.number, self.status, self.wanted = number, status, wanted


# status -> the statuses it may become
ALLOWED = {
    TicketStatus.WAITING: {TicketStatus.CALLED, TicketStatus.LEFT},
    TicketStatus.CALLED: {TicketStatus.SERVED, TicketStatus.NO_SHOW, TicketStatus.LEFT},
    TicketStatus.SERVED: set(),
    TicketStatus.NO_SHOW: set(),
    TicketStatus.LEFT: set(),
}


@dataclass(frozen=True)
class Ticket:
    id: str
    site: str
    day: date
    seq: int
    language: str
    topic: str
    status: TicketStatus
    drawn_at: datetime
    called_at: datetime | None = None
    called_by: str | None = None
    closed_at: datetime | None = None
    interpreter_needed: bool = False
    intake_id: str | None = None

    @property
    def number(self) -> str:
        return ticket_number(self.site, self.seq)

    def waited(self, now: datetime) -> timedelta:
        """From drawing the ticket to being called (or to now, while it waits)."""
        return (self.called_at or now) - self.drawn_at

    def waiting_minutes(self, now: datetime) -> int:
        return max(0, int(self.waited(now).total_seconds() // 60))

    def moved_to(self, status: TicketStatus, at: datetime, by: str | None = None,
                 speaks: frozenset[str] = SPOKEN_BY_ALL) -> Ticket:
        """The ticket in its next status; TransitionRefused if its status does not allow."""
        if status not in ALLOWED[self.status]:
            raise TransitionRefused(self.number, self.status, status)
        if status is TicketStatus.CALLED:
            return replace(self, status=status, called_at=at, called_by=by,
                           interpreter_needed=self.language not in speaks)
        return replace(self, status=status, closed_at=at)


    def event(self) -> QueueTicketDrawnV1:
        """What the ticket's latest move tells the bus (no name: there is none, and not who
        called): drawn, called or closed, with its waiting time once called."""
        drawn = dict(ticket_id=uuid.UUID(self.id), site=self.site, number=self.number,
                     language=self.language, topic=self.topic, drawn_at=self.drawn_at)
        if self.status is TicketStatus.LEFT and self.called_at is None and self.closed_at:
            # left while still waiting: closed, never called
            return QueueTicketClosedV2(**drawn, called_at=None, waited_seconds=None,
                                       interpreter_needed=None, status=self.status.value,
                                       closed_at=self.closed_at)
        if self.status is TicketStatus.WAITING or self.called_at is None:
            return QueueTicketDrawnV1(**drawn)
        called = dict(drawn, called_at=self.called_at,
                      waited_seconds=int(self.waited(self.called_at).total_seconds()),
                      interpreter_needed=self.interpreter_needed)
        if self.status is TicketStatus.CALLED or self.closed_at is None:
            return QueueTicketCalledV1(**called)
        return QueueTicketClosedV2(**called, status=self.status.value, closed_at=self.closed_at,
                                   intake_id=uuid.UUID(self.intake_id) if self.intake_id
                                   else None)


def day_over(day: date) -> datetime:
    """When the city's day `day` is over: the next midnight in Europe/Berlin."""
    return datetime.combine(day + timedelta(days=1), time(0), CITY_TIME).astimezone(timezone.utc)


def left_behind(tickets: Iterable[Ticket], now: datetime) -> list[Ticket]:
    """The tickets still waiting or called whose day is over, each closed as left without
    being served at the end of its day."""
    return [t.moved_to(TicketStatus.LEFT, day_over(t.day)) for t in tickets
            if t.status in OPEN and day_over(t.day) <= now]


def ticket_number(site: str, seq: int) -> str:
    """'Z-017': the site's letter and the day's running number (short, read out aloud)."""
    return f"{SITE_LETTERS.get(site, site[:1].upper())}-{seq:03d}"


def check_draw(site: str, language: str, topic: str) -> None:
    """A ticket's inputs, each refused naming its field."""
    if site not in {s.code for s in SITES}:
        raise QueueError("site", f"must be one of {', '.join(s.code for s in SITES)}")
    if not isinstance(language, str) or not is_language(language):
        raise QueueError("language", "must be an ISO 639-1 or 639-3 code (e.g. uk, ar, prs)")
    if topic not in TOPICS:
        raise QueueError("topic", f"must be one of {', '.join(TOPICS)}")


def next_seq(used_today: int) -> int:
    """The next running number of the day at a site; the day has room for MAX_PER_DAY."""
    if used_today >= MAX_PER_DAY:
        raise NumbersRunOut("site", f"this site has drawn {MAX_PER_DAY} tickets today")
    return used_today + 1


def staff_speaks(account_languages: Iterable[str]) -> frozenset[str]:
    return SPOKEN_BY_ALL | frozenset(account_languages)


def callable_by(ticket: Ticket, speaks: frozenset[str], now: datetime,
                interpreter_after: timedelta = INTERPRETER_AFTER) -> bool:
    """A waiting ticket this staff member may call: they speak its language, or it has
    waited long enough to be served with an interpreter."""
    return ticket.status is TicketStatus.WAITING and (
        ticket.language in speaks or ticket.waited(now) >= interpreter_after)


def choose_next(waiting: Sequence[Ticket], speaks: frozenset[str], now: datetime,
                interpreter_after: timedelta = INTERPRETER_AFTER) -> Ticket | None:
    """The longest-waiting ticket this staff member may call, or None."""
    candidates = [t for t in waiting if callable_by(t, speaks, now, interpreter_after)]
    return min(candidates, key=lambda t: (t.drawn_at, t.seq), default=None)


def parse_languages(text: str) -> tuple[str, ...]:
    """'uk, ru ar' -> ('uk', 'ru', 'ar'); QueueError naming `languages` for a wrong code."""
    codes = tuple(dict.fromkeys(c.strip().lower() for c in text.replace(",", " ").split()))
    wrong = [c for c in codes if not is_language(c)]
    if wrong:
        raise QueueError("languages", f"not ISO language codes: {', '.join(wrong)}")
    return codes


@dataclass
class DrawLimit:
    """How many tickets the kiosk hands out per minute: `per_client` to one browser session
    or one client address, `per_site` at a site. Counted in memory, per process (a brake on
    someone drawing the day's numbers, not an account): each key keeps the times of its
    draws within the window, as the login throttle counts failures within its window.
    Reception (staff with a login) is not counted."""
    per_client: int = 4
    per_site: int = 10
    window: timedelta = timedelta(minutes=1)
    _drawn: dict[str, deque[datetime]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allow(self, site: str, clients: Iterable[str], now: datetime) -> bool:
        """Count a draw at `site` by `clients` (session, address) and say whether it may be
        made; a refused draw is not counted."""
        limits = [(f"site|{site}", self.per_site), *((f"client|{c}", self.per_client)
                                                     for c in clients)]
        with self._lock:
            for key, _limit in limits:
                times = self._drawn.setdefault(key, deque())
                while times and times[0] <= now - self.window:
                    times.popleft()
            if any(len(self._drawn[key]) >= limit for key, limit in limits):
                return False
            for key, _limit in limits:
                self._drawn[key].append(now)
            if len(self._drawn) > 10_000:  # clients long gone: forget them
                self._drawn = {k: t for k, t in self._drawn.items()
                               if t and t[-1] > now - self.window}
            return True
