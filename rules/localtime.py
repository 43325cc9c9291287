"""Day, night and business hours in the community's local time (LINLI_TZ).

GB 3096-2008 §3.6/3.7: day 06:00–22:00, night 22:00–06:00 unless the county-level
government moves them; business hours are up to three windows a day (docs/domain.md).
A reading belongs to the period it measured, `[ts − period_s, ts)` (its `ts` is the
period's end): its day or night, its local hour and so its limit are those of its
period's midpoint (`measured_at_ms`). A 1-minute reading stamped 22:00:00 measured
21:59–22:00 and is daytime; a period straddling a boundary belongs to the side it
mostly covers, and one split exactly in half to the later side.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from linli.rules.limits import Period

MAX_BUSINESS_WINDOWS: Final = 3
MINUTES_PER_DAY: Final = 24 * 60


@dataclass(frozen=True, slots=True)
class Window:
    """A daily window from `start_min` to `end_min` (minutes after local midnight).

    `end_min` ≤ `start_min` means the window runs past midnight (e.g. 17:00–02:00).
    """

    start_min: int
    end_min: int

    def __contains__(self, minute: object) -> bool:
        if not isinstance(minute, int):
            return False
        if self.start_min < self.end_min:
            return self.start_min <= minute < self.end_min
        return minute >= self.start_min or minute < self.end_min


def rfc3339(ts_ms: int) -> str:
    """Epoch ms as RFC 3339 in UTC, to the millisecond."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")


def format_hhmm(minute: int) -> str:
    """`HH:MM` of minutes after midnight (1440 is 24:00)."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of `HH:MM` (24:00 allowed as the end of a day)."""
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= MINUTES_PER_DAY or not 0 <= int(minutes or 0) < 60:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return value


def measured_at_ms(ts_ms: int, period_s: int) -> int:
    """The midpoint of the period a reading measured, `[ts_ms − period_s, ts_ms)`.

    Day or night, the local hour and the limit in force are decided here, for the rules,
    the `limit_db`/`exceed_s`/`hour_local` ingest writes and the dashboards alike.
    """
    return ts_ms - period_s * 500


@functools.lru_cache(maxsize=65_536)
def _minute_of_day(tz: str, epoch_minute: int) -> int:
    # Cached per minute: the rules ask for every reading (UTC offsets are whole minutes).
    local = datetime.fromtimestamp(epoch_minute * 60, ZoneInfo(tz))
    return local.hour * 60 + local.minute


@functools.lru_cache(maxsize=65_536)
def _period(tz: str, night_start_min: int, night_end_min: int, epoch_minute: int) -> Period:
    # Cached per minute as well: the rules ask for every reading.
    night = Window(night_start_min, night_end_min)
    return Period.NIGHT if _minute_of_day(tz, epoch_minute) in night else Period.DAY


@functools.lru_cache(maxsize=65_536)
def _period_bounds(
    tz: str, night_start_min: int, night_end_min: int, epoch_minute: int
) -> tuple[int, int]:
    # Cached per minute, as `_period`: the rules ask for every reading.
    night = _period(tz, night_start_min, night_end_min, epoch_minute) is Period.NIGHT
    if night_start_min % MINUTES_PER_DAY == night_end_min % MINUTES_PER_DAY:
        return -(2**62), 2**62  # one period all day: it never begins or ends
    begin, end = (night_start_min, night_end_min) if night else (night_end_min, night_start_min)
    local = datetime.fromtimestamp(epoch_minute * 60, ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0)

    def at(day: int, minute: int) -> datetime:
        # wall-clock arithmetic in the zone: aware datetimes of one tzinfo compare as local
        return midnight + timedelta(days=day, minutes=minute % MINUTES_PER_DAY)

    start = at(0, begin) if at(0, begin) <= local else at(-1, begin)
    stop = at(0, end) if at(0, end) > local else at(1, end)
    return int(start.timestamp()) * 1000, int(stop.timestamp()) * 1000


@dataclass(frozen=True, slots=True)
class Calendar:
    """The community's clock: its zone, where night begins and ends, its business hours."""

    tz: str = "Asia/Shanghai"
    night_start_min: int = 22 * 60  # GB 3096-2008 §3.7: 22:00
    night_end_min: int = 6 * 60  # GB 3096-2008 §3.6: 06:00
    business_hours: tuple[Window, ...] = ()  # empty: all day

    def __post_init__(self) -> None:
        if len(self.business_hours) > MAX_BUSINESS_WINDOWS:
            raise ValueError(
                f"business hours: {len(self.business_hours)} windows, at most "
                f"{MAX_BUSINESS_WINDOWS}"
            )
        ZoneInfo(self.tz)

    def minute_of_day(self, ts_ms: int) -> int:
        """Minutes after local midnight at `ts_ms`."""
        return _minute_of_day(self.tz, ts_ms // 60_000)

    def period(self, ts_ms: int) -> Period:
        """Day or night at `ts_ms`, local time."""
        return _period(self.tz, self.night_start_min, self.night_end_min, ts_ms // 60_000)

    def period_of(self, ts_ms: int, period_s: int) -> Period:
        """Day or night of a reading ending at `ts_ms` after `period_s`: its period's midpoint."""
        return self.period(measured_at_ms(ts_ms, period_s))

    def period_bounds(self, ts_ms: int) -> tuple[int, int]:
        """When the day or night that `ts_ms` falls in begins and ends (epoch ms, [start, end))."""
        return _period_bounds(self.tz, self.night_start_min, self.night_end_min, ts_ms // 60_000)

    def in_business_hours(self, ts_ms: int) -> bool:
        """Whether `ts_ms` falls in a business-hours window (always, when none is set)."""
        if not self.business_hours:
            return True
        minute = self.minute_of_day(ts_ms)
        return any(minute in w for w in self.business_hours)


class LocalClock:
    """A reading's local hour and day or night by a `Calendar`, cached per minute (ingest's
    hot path).

    Ingest writes both with every noise reading (docs/devices.md): the period is
    `Calendar.period_of`, the engine's own (the midpoint of the period the reading
    measured), so `limit_db` and the cases agree. UTC offsets are whole minutes, so both
    are constant within an epoch minute of the midpoint.
    """

    __slots__ = ("_cache", "calendar")

    _MINUTE_MS: Final = 60_000
    _MAX_ENTRIES: Final = 16_384  # a week of minutes (the oldest ts accepted) fits

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self._cache: dict[int, tuple[int, Period]] = {}

    def hour_period(self, ts_ms: int, period_s: int) -> tuple[int, Period]:
        """The local hour (0–23) and the day or night of a reading ending at `ts_ms`."""
        at_ms = measured_at_ms(ts_ms, period_s)
        minute = at_ms // self._MINUTE_MS
        found = self._cache.get(minute)
        if found is None:
            if len(self._cache) >= self._MAX_ENTRIES:
                self._cache.clear()
            cal = self.calendar
            found = (cal.minute_of_day(at_ms) // 60, cal.period_of(ts_ms, period_s))
            self._cache[minute] = found
        return found
