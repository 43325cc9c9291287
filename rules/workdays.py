"""Working days with China's public holidays and their make-up days (调休), for deadlines.

12345 time limits count working days (docs/domain.md "Complaints and work orders"). The
calendar is the maintained `chinesecalendar` package (module `chinese_calendar`), which
knows each year's State Council holiday notice once published; for a date beyond its
data it raises, and linli falls back to Monday–Friday with a logged warning (a deadline a
few days off around a holiday, never none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)

IsWorkday = Callable[[date], bool]

_warned: set[int] = set()


def china_workday(day: date) -> bool:
    """Whether `day` is a working day in mainland China (holidays off, make-up days on)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning(
                "chinesecalendar %s has no holidays for %d: counting Monday–Friday as "
                "working days (update the package)",
                getattr(chinese_calendar, "__version__", "?"),
                day.year,
            )
        return day.weekday() < 5


def add_working_days(
    start_ms: int, days: int, tz: str, is_workday: IsWorkday = china_workday
) -> int:
    """The end (local midnight after) of the `days`-th working day after `start_ms`'s day.

    "Within 5 working days" of an order received on a Friday afternoon before a holiday
    week ends when the fifth working day after it ends, the holidays not counted.
    """
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(start_ms / 1000, zone).date()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        if is_workday(day):
            counted += 1
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return int(end.timestamp() * 1000)
