"""Time in one place: aware UTC datetimes, injectable for tests."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]
CITY_TIME = ZoneInfo("Europe/Berlin")  # the city's wall clock: deadlines, appointments


def city_time(value: datetime | str | None, fmt: str = "%a %d.%m.%Y %H:%M") -> str:
    """A stored (UTC or offset) time as the city's wall-clock time, for people to read."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CITY_TIME).strftime(fmt)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
