"""Deadlines in working days of the city's state (NRW): acknowledgement, completion, expiry.

Plain domain code: a `WorkingCalendar` counts working days around public holidays; a
`DeadlinePolicy` per partner service says how many. The due times are stored on the referral
(in the database) and a scheduler sweeps them, so they survive restarts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

CITY_TIME = ZoneInfo("Europe/Berlin")


class WorkingCalendar:
    """Monday to Friday except the public holidays of one German state."""

    def __init__(self, state: str = "NW"):
        self.state = state
        self._holidays = holidays.country_holidays("DE", subdiv=state)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """End of the `days`-th working day after `start` (city time), as UTC."""
        day = start.astimezone(CITY_TIME).date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            counted += self.is_working_day(day)
        end = datetime.combine(day, time(23, 59, 59), CITY_TIME)
        return end.astimezone(start.tzinfo or CITY_TIME)

    def reminders_from(self, now: datetime, days: int) -> datetime:
        """The start of the (`days` + 1)-th working day after `now`: a due time before it is
        at most `days` working days away (working_days_between), one after it more."""
        day = self.add_working_days(now, days + 1).astimezone(CITY_TIME).date()
        return datetime.combine(day, time(0, 0), CITY_TIME).astimezone(now.tzinfo or CITY_TIME)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        a, b = start.astimezone(CITY_TIME).date(), end.astimezone(CITY_TIME).date()
        return sum(self.is_working_day(a + timedelta(days=i + 1)) for i in range((b - a).days))


@dataclass(frozen=True)
class DeadlinePolicy:
    partner: str
    service: str
    ack_days: int
    completion_days: int
    expire_days: int | None = None
    remind_days_before: int = 1


# For partner services without a policy of their own: nothing runs without a clock.
DEFAULT_POLICY = DeadlinePolicy("*", "*", ack_days=5, completion_days=30)

ACK_STATUSES = frozenset({"requested", "received"})
WORK_STATUSES = frozenset({"accepted", "in-progress"})
