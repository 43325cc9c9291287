"""Daily profiles by site type, in the community's local time, as per-minute lookup tables.

A profile gives a site's typical A-weighted background by local hour, busy windows that
raise it and bring more short loud events (doors, voices, horns, singing), and for
cooking sites the cooking intensity and the business hours in which the exhaust fan
and the purifier run. Levels are what a boundary monitor would see (GB 22337 measures
at the premises boundary); nights and days follow GB 3096's 22:00/06:00 split loosely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

MINUTES_PER_DAY: Final = 1440


@dataclass(frozen=True, slots=True)
class Window:
    """A span of local clock time [start, end) in minutes of the day; may pass midnight."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> Window:
        """`"11:00-13:30"`; `"20:00-02:00"` runs past midnight, `"00:00-24:00"` is all day."""
        start, _, end = text.partition("-")
        return cls(_minute(start), _minute(end))

    def mask(self) -> BoolArray:
        """Which of the day's 1440 minutes lie inside the window."""
        minutes = np.arange(MINUTES_PER_DAY)
        if self.start_min <= self.end_min:
            inside: BoolArray = (minutes >= self.start_min) & (minutes < self.end_min)
        else:
            inside = (minutes >= self.start_min) | (minutes < self.end_min)
        return inside


def _minute(hhmm: str) -> int:
    hours, _, minutes = hhmm.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(f"clock time {hhmm!r} is not within 00:00-24:00")
    return value


@dataclass(frozen=True, slots=True)
class Peak:
    """A busy window: the background rises by `add_db` and events come more often."""

    window: Window
    add_db: float
    events_per_min: float


@dataclass(frozen=True, slots=True)
class Profile:
    """One site type's day; all levels in dB(A), all clock times local."""

    name: str
    hourly_db: tuple[float, ...]  # typical background at each local hour, 0..23
    sd_db: float  # second-to-second spread of the background
    events_per_min: float  # short loud events outside peaks
    event_db: float  # an event rises up to this far above the background
    peaks: tuple[Peak, ...] = ()
    business: tuple[Window, ...] = ()  # exhaust fan (and normally the purifier) running
    cooking: tuple[tuple[Window, float], ...] = ()  # cooking intensity 0..1 in windows
    oil_fume_peak: float = 0.0  # mg/m³ added at full cooking intensity


def _w(text: str) -> Window:
    return Window.parse(text)


def _hours(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split())


# fmt: off
PROFILES: Final[Mapping[str, Profile]] = {p.name: p for p in (
    Profile(
        "residential",
        #        0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23
        _hours("40 39 38 38 38 40 44 48 50 51 51 51 52 51 50 50 51 52 53 53 52 49 45 42"),
        sd_db=1.8, events_per_min=0.4, event_db=12,
        peaks=(Peak(_w("07:00-22:00"), 0, 1.2),),
    ),
    Profile(
        "restaurant",
        _hours("45 44 43 43 43 44 46 48 50 51 52 53 53 52 51 51 52 53 53 53 52 50 48 46"),
        sd_db=2.0, events_per_min=1.5, event_db=14,
        peaks=(Peak(_w("11:00-13:30"), 3, 4), Peak(_w("17:00-20:30"), 3.5, 4.5)),
        business=(_w("10:00-21:30"),),
        cooking=(
            (_w("10:00-11:00"), 0.3), (_w("11:00-13:30"), 1.0), (_w("13:30-17:00"), 0.15),
            (_w("17:00-20:30"), 1.0), (_w("20:30-21:30"), 0.3),
        ),
        oil_fume_peak=0.9,
    ),
    Profile(
        "ktv",
        _hours("62 60 52 46 44 44 45 46 47 47 48 50 51 51 51 51 52 53 55 57 63 64 64 64"),
        sd_db=2.5, events_per_min=2, event_db=12,
        peaks=(Peak(_w("20:00-02:00"), 2, 8),),
        business=(_w("12:00-03:00"),),
    ),
    Profile(
        "bbq",
        _hours("58 56 50 46 44 44 45 46 47 48 49 49 50 50 50 50 52 55 57 58 59 59 59 59"),
        sd_db=2.2, events_per_min=2, event_db=13,
        peaks=(Peak(_w("19:00-23:00"), 2, 6),),
        business=(_w("16:30-02:30"),),
        cooking=((_w("17:00-19:00"), 0.6), (_w("19:00-23:00"), 1.0), (_w("23:00-02:00"), 0.6)),
        oil_fume_peak=1.0,
    ),
    Profile(
        "convenience",
        _hours("50 49 49 49 49 50 51 52 53 53 53 53 53 53 53 53 53 54 54 54 53 52 51 50"),
        sd_db=1.5, events_per_min=1.5, event_db=9,
        business=(_w("00:00-24:00"),),
    ),
    Profile(
        "traffic",  # zone 4a roadside strip (GB 3096 class 4a: 70 day / 55 night)
        _hours("54 53 52 52 53 56 60 64 64 62 61 61 61 61 61 62 63 64 64 62 61 60 58 56"),
        sd_db=3.0, events_per_min=4, event_db=12,
        peaks=(Peak(_w("07:00-09:00"), 1, 10), Peak(_w("17:00-19:00"), 1, 10)),
    ),
)}
# fmt: on


@dataclass(frozen=True, slots=True)
class ProfileTable:
    """Every profile as per-minute arrays stacked on a first axis, for vectorised sampling."""

    names: tuple[str, ...]
    noise_db: FloatArray  # (profiles, 1440) background level
    event_p: FloatArray  # (profiles, 1440) chance per second of a loud event
    sd_db: FloatArray  # (profiles,)
    event_db: FloatArray  # (profiles,)
    cooking: FloatArray  # (profiles, 1440) cooking intensity 0..1
    business: BoolArray  # (profiles, 1440) fan on
    oil_fume_peak: FloatArray  # (profiles,)
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def index(self, name: str) -> int:
        """The row of profile `name`."""
        try:
            return self._index[name]
        except KeyError:
            known = ", ".join(self.names)
            raise KeyError(f"profile {name!r} is unknown (known: {known})") from None


def build_table(profiles: Sequence[Profile] = tuple(PROFILES.values())) -> ProfileTable:
    """Expand profiles into per-minute tables."""
    minutes = np.arange(MINUTES_PER_DAY) / 60.0
    # Each hourly value holds at hh:30; between them, straight lines, wrapping at midnight.
    xp = np.arange(-1, 25, dtype=np.float64) + 0.5
    noise, event_p, cooking, business = [], [], [], []
    for p in profiles:
        if len(p.hourly_db) != 24:
            raise ValueError(f"profile {p.name!r}: hourly_db needs 24 values")
        hourly = np.array((p.hourly_db[-1], *p.hourly_db, p.hourly_db[0]), dtype=np.float64)
        db = np.interp(minutes, xp, hourly)
        rate = np.full(MINUTES_PER_DAY, p.events_per_min)
        for peak in p.peaks:
            inside = peak.window.mask()
            db[inside] += peak.add_db
            rate[inside] = peak.events_per_min
        cook = np.zeros(MINUTES_PER_DAY)
        for window, intensity in p.cooking:
            cook[window.mask()] = intensity
        fan = np.zeros(MINUTES_PER_DAY, dtype=np.bool_)
        for window in p.business:
            fan |= window.mask()
        noise.append(db)
        event_p.append(rate / 60.0)
        cooking.append(cook)
        business.append(fan)
    names = tuple(p.name for p in profiles)
    return ProfileTable(
        names=names,
        noise_db=np.array(noise),
        event_p=np.array(event_p),
        sd_db=np.array([p.sd_db for p in profiles], dtype=np.float64),
        event_db=np.array([p.event_db for p in profiles], dtype=np.float64),
        cooking=np.array(cooking),
        business=np.array(business),
        oil_fume_peak=np.array([p.oil_fume_peak for p in profiles], dtype=np.float64),
        _index={name: i for i, name in enumerate(names)},
    )


def minute_of_day(epoch_s: npt.ArrayLike, tz: ZoneInfo) -> IntArray:
    """Local minute of the day (0..1439) of each epoch second."""
    seconds = np.asarray(epoch_s, dtype=np.int64)
    if seconds.size == 0:
        return seconds.copy()
    lo, hi = _utc_offset_s(int(seconds.min()), tz), _utc_offset_s(int(seconds.max()), tz)
    local: IntArray = seconds + lo
    if lo != hi:  # a daylight-saving change inside the span: look each second up
        lookup = np.vectorize(lambda s: _utc_offset_s(int(s), tz), otypes=[np.int64])
        local = seconds + lookup(seconds)
    minute: IntArray = (local // 60) % MINUTES_PER_DAY
    return minute


def _utc_offset_s(epoch_s: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(epoch_s, UTC).astimezone(tz).utcoffset()
    return int(offset.total_seconds()) if offset else 0
