"""A site's month in numbers (CONTRACT §10): a row a day and the month's summary.

Pure: the adapter (influx/month.py) fetches the site's readings and the counts, this
module decides every figure, and the API, the CSV/XLSX exports, the board's printable
page and the public page's day verdicts all render the same `SiteMonth`.

- Day and night are GB 3096-2008 §3.6/3.7's (06:00–22:00 and 22:00–06:00 local unless the
  community moves them: `Calendar`). A row's night is the one that BEGINS that evening,
  so the month's last row reaches into the next month. A reading belongs to the period
  its own period's midpoint falls in (rules/localtime.py), as the rules and ingest's
  `limit_db` decide it.
- `ld`/`ln` are energetic (`10·log10(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ)`, rules/energy.py), each
  reading weighted by its `period_s`, from valid readings only (no HJ 212 flag other
  than N, CONTRACT §8), to 0.1 dB.
- Coverage is the share of the period covered by valid readings (the union of their
  periods, several sensors counted once, at most 1). A day half missing has coverage
  0.5 and its `ld` from what is there, flagged by its coverage; no readings: `ld` null
  and coverage 0, never a made-up number.
- `minutes_over` counts the minutes of readings whose LAeq exceeds the limit in force
  for them (as ingest's `exceed_s`), in the row's day and its night.
- Fume: `fume_mean` is the mean oil-fume concentration of the readings while the fan
  runs (as the fume rule's window mean, rules/breaches.py), `fan_on_min` and
  `purifier_on_min` the minutes each ran, `purifier_rate` the share of the fan's
  minutes with the purifier running too (the 开机率, GB 18483-2001 §5.1), judged as the
  purifier rule judges it (its current when the monitor sends one, else its state).
  A fume row's day is the local calendar day (fume has no night limit).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final, NamedTuple
from zoneinfo import ZoneInfo

from linli.rules.energy import level_of, sound_energy
from linli.rules.limits import Period
from linli.rules.localtime import Calendar, measured_at_ms
from linli.rules.reading import Reading, SensorKind, monitoring, numeric
from linli.rules.series import fan_running

LEVEL_DECIMALS: Final = 1  # dB, as the rules' and the dashboards' figures
FUME_DECIMALS: Final = 2  # mg/m³, as the fume rule's window mean
RATE_DECIMALS: Final = 4
_MONTH_RE: Final = re.compile(r"(\d{4})-(\d{2})")


class Month(NamedTuple):
    """A calendar month, `YYYY-MM`."""

    year: int
    month: int

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def first(self) -> date:
        """Its first day."""
        return date(self.year, self.month, 1)

    def next(self) -> Month:
        """The month after it."""
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def previous(self) -> Month:
        """The month before it."""
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def days(self) -> list[date]:
        """Every date of the month."""
        first, stop = self.first(), self.next().first()
        return [first + timedelta(days=i) for i in range((stop - first).days)]


def parse_month(text: str) -> Month:
    """`YYYY-MM` as a Month; ValueError with one sentence otherwise."""
    match = _MONTH_RE.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValueError(f"month {text!r} is not a month as YYYY-MM, e.g. 2025-11")
    return Month(int(match[1]), int(match[2]))


def month_of(ts_ms: int, tz: str) -> Month:
    """The local month `ts_ms` falls in."""
    local = datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz))
    return Month(local.year, local.month)


# -- the limits in force -----------------------------------------------------------------


class LimitChange(NamedTuple):
    """The LAeq limits (dB(A)) in force by day and by night from `since_ms` on."""

    since_ms: int
    day_db: float
    night_db: float


class LimitsInForce:
    """The noise limits over time: a site's zone or standard may change during a month.

    Each reading is judged by the limits in force at its period's midpoint; a day's or a
    night's `limit_day`/`limit_night` is the one in force when that period began.
    """

    __slots__ = ("_changes", "_starts")

    def __init__(self, changes: Iterable[LimitChange]) -> None:
        self._changes = sorted(changes)
        if not self._changes:
            raise ValueError("limits in force: at least one")
        self._starts = [c.since_ms for c in self._changes]

    @classmethod
    def constant(cls, day_db: float, night_db: float) -> LimitsInForce:
        """The same limits all along."""
        return cls([LimitChange(-(2**62), day_db, night_db)])

    def at(self, ts_ms: int, period: Period) -> float:
        """The LAeq limit in force at `ts_ms` for `period` (the earliest one before all)."""
        i = max(bisect.bisect_right(self._starts, ts_ms) - 1, 0)
        change = self._changes[i]
        return change.night_db if period is Period.NIGHT else change.day_db

    @property
    def changes(self) -> Sequence[LimitChange]:
        """The changes, oldest first."""
        return self._changes


# -- the periods of a month --------------------------------------------------------------


class Span(NamedTuple):
    """One day or night of the month: `[start_ms, end_ms)`, the row `day` it belongs to."""

    start_ms: int
    end_ms: int
    period: Period
    day: date


def spans(month: Month, calendar: Calendar) -> list[Span]:
    """Every day and night a month's rows cover, in time order: each date's day and the
    night that begins that evening (the last one ends in the next month)."""
    tz = ZoneInfo(calendar.tz)
    first, stop = month.first(), month.next().first()
    t = int(datetime(first.year, first.month, first.day, tzinfo=tz).timestamp() * 1000)
    end = int(datetime(stop.year, stop.month, stop.day, tzinfo=tz).timestamp() * 1000)
    out: list[Span] = []
    # walk from the first local midnight; a period is the month's if it begins in it
    start_ms, _ = calendar.period_bounds(t)
    t = start_ms
    while t < end:
        start_ms, end_ms = calendar.period_bounds(t)
        if end_ms - start_ms >= 2**61:  # one period all day (no night): a row a local day
            start_ms, end_ms = t, t + 86_400_000
        period = calendar.period(start_ms)
        begun = datetime.fromtimestamp(start_ms / 1000, tz).date()
        if first <= begun < stop:
            out.append(Span(start_ms, end_ms, period, begun))
        t = end_ms
    return out


def _local_days(month: Month, tz: str) -> list[Span]:
    """The month's local calendar days, as day spans (fume rows)."""
    zone = ZoneInfo(tz)
    out = []
    for d in month.days():
        nxt = d + timedelta(days=1)
        start = int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000)
        stop = int(datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).timestamp() * 1000)
        out.append(Span(start, stop, Period.DAY, d))
    return out


def fetch_range(month: Month, calendar: Calendar) -> tuple[int, int]:
    """The `[from, to)` epoch ms whose readings a month's figures can use (its rows' days
    and nights and the local calendar days, with an hour's margin for long periods)."""
    periods = spans(month, calendar) + _local_days(month, calendar.tz)
    return min(s.start_ms for s in periods) - 3_600_000, max(s.end_ms for s in periods) + 3_600_000


# -- the figures ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figures:
    """One day's or the whole month's figures (CONTRACT §10's names); None: not known."""

    ld: float | None = None
    ln: float | None = None
    limit_day: float | None = None
    limit_night: float | None = None
    minutes_over: float | None = None
    coverage_day: float = 0.0
    coverage_night: float = 0.0
    fume_mean: float | None = None
    fan_on_min: float | None = None
    purifier_on_min: float | None = None
    purifier_rate: float | None = None
    cases_opened: int = 0
    complaints: int = 0


@dataclass(frozen=True, slots=True)
class Day:
    """One row of the month: a date and its figures."""

    date: date
    figures: Figures


@dataclass(frozen=True, slots=True)
class SiteMonth:
    """A site's month: a row a day and the summary (CONTRACT §10)."""

    site: str
    month: Month
    noise: bool  # the site has noise sensors: ld, ln, limits, minutes_over
    fume: bool  # the site has fume sensors: fume_mean, fan and purifier minutes
    days: tuple[Day, ...]
    summary: Figures


FIELDS: Final = tuple(Figures.__dataclass_fields__)
"""The figures' names in the contract's order: the JSON keys, the CSV's columns."""


class _Acc:
    """What one period's valid readings add up to."""

    __slots__ = ("energy", "intervals", "over_s", "seconds")

    def __init__(self) -> None:
        self.energy = 0.0
        self.seconds = 0.0
        self.over_s = 0.0
        self.intervals: list[tuple[int, int]] = []


class _FumeAcc:
    """What one local day's valid fume readings add up to."""

    __slots__ = ("fan_s", "fume_n", "fume_sum", "known_fan_s", "n", "purified_s", "purifier_s")

    def __init__(self) -> None:
        self.n = 0  # valid fume readings
        self.fume_sum = 0.0
        self.fume_n = 0
        self.fan_s = 0.0
        self.purifier_s = 0.0
        self.known_fan_s = 0.0  # fan running with the purifier's state known
        self.purified_s = 0.0  # … and the purifier running

    def add(self, other: _FumeAcc) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def purifier_running(r: Reading, current_min_a: float) -> bool | None:
    """Whether a fume reading's purifier ran: its current when sent (as the purifier rule
    judges, rules/breaches.py), else its on/off state; None when neither was sent."""
    current = numeric(r, "purifier_current")
    if current is not None:
        return current >= current_min_a
    state = r.metrics.get("purifier_on")
    return None if state is None else state is True


def covered_s(intervals: list[tuple[int, int]], cap_ms: int) -> float:
    """Seconds covered by the union of `[start, end)` intervals (ms), at most `cap_ms`."""
    total = 0
    reach = -(2**62)
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return min(total, cap_ms) / 1000


def _coverage(intervals: list[tuple[int, int]], span: Span) -> float:
    length = span.end_ms - span.start_ms
    return round(covered_s(intervals, length) * 1000 / length, RATE_DECIMALS)


def site_month(
    site: str,
    month: Month,
    readings: Iterable[Reading],
    limits: LimitsInForce,
    calendar: Calendar,
    *,
    kinds: Iterable[SensorKind] = (),
    cases_opened_ms: Iterable[int] = (),
    complaints_ms: Iterable[int] = (),
    purifier_current_min_a: float = 0.5,
) -> SiteMonth:
    """A site's month from its readings (any order, flagged ones are skipped), the noise
    limits in force over time, its community's calendar, and when its cases were opened
    and its complaints received (counted by local date). `kinds`: the site's sensor
    kinds (those of the readings are added), which say which figures apply."""
    periods = spans(month, calendar)
    local_days = _local_days(month, calendar.tz)
    starts = [s.start_ms for s in periods]
    day_starts = [s.start_ms for s in local_days]
    acc = [_Acc() for _ in periods]
    fume_cover = [_Acc() for _ in periods]  # fume readings' coverage of the same periods
    fume_acc = [_FumeAcc() for _ in local_days]
    have = set(kinds)
    for r in readings:
        if not monitoring(r):
            continue
        have.add(r.kind)
        mid = measured_at_ms(r.ts_ms, r.period_s)
        interval = (r.ts_ms - r.period_s * 1000, r.ts_ms)
        i = bisect.bisect_right(starts, mid) - 1
        in_span = 0 <= i < len(periods) and mid < periods[i].end_ms
        if r.kind is SensorKind.NOISE:
            laeq = numeric(r, "laeq")
            if laeq is None or not in_span:
                continue
            a, span = acc[i], periods[i]
            a.energy += sound_energy(laeq, r.period_s)
            a.seconds += r.period_s
            a.intervals.append(interval)
            if laeq > limits.at(mid, span.period):
                a.over_s += r.period_s
            continue
        if in_span:
            fume_cover[i].intervals.append(interval)
        j = bisect.bisect_right(day_starts, mid) - 1
        if not (0 <= j < len(local_days) and mid < local_days[j].end_ms):
            continue
        f = fume_acc[j]
        f.n += 1
        fan = fan_running(r)
        if fan:
            f.fan_s += r.period_s
            oil = numeric(r, "oil_fume")
            if oil is not None:
                f.fume_sum += oil
                f.fume_n += 1
        purifier = purifier_running(r, purifier_current_min_a)
        if purifier:
            f.purifier_s += r.period_s
        if fan and purifier is not None:
            f.known_fan_s += r.period_s
            if purifier:
                f.purified_s += r.period_s
    noise, fume = SensorKind.NOISE in have, SensorKind.FUME in have
    cases = Counter(_local_date(ts, calendar.tz) for ts in cases_opened_ms)
    complaints = Counter(_local_date(ts, calendar.tz) for ts in complaints_ms)
    by_day: dict[date, dict[Period, int]] = {}
    for i, span in enumerate(periods):
        by_day.setdefault(span.day, {})[span.period] = i
    cover = acc if noise else fume_cover
    days = []
    for j, local in enumerate(local_days):
        idx = by_day.get(local.day, {})
        d, n = idx.get(Period.DAY), idx.get(Period.NIGHT)
        figures = Figures(
            coverage_day=0.0 if d is None else _coverage(cover[d].intervals, periods[d]),
            coverage_night=0.0 if n is None else _coverage(cover[n].intervals, periods[n]),
            cases_opened=cases[local.day],
            complaints=complaints[local.day],
            **(_noise_figures([acc[k] for k in (d, n) if k is not None], periods, d, n, limits))
            if noise
            else {},
            **(_fume_figures(fume_acc[j]) if fume else {}),
        )
        days.append(Day(local.day, figures))
    summary = _summary(
        days,
        periods,
        acc if noise else None,
        fume_acc if fume else None,
        cover,
    )
    return SiteMonth(site, month, noise, fume, tuple(days), summary)


def _local_date(ts_ms: int, tz: str) -> date:
    return datetime.fromtimestamp(ts_ms / 1000, ZoneInfo(tz)).date()


def _noise_figures(
    accs: list[_Acc], periods: list[Span], d: int | None, n: int | None, limits: LimitsInForce
) -> dict[str, float | None]:
    day = None if d is None else periods[d]
    night = None if n is None else periods[n]
    over_s = sum(a.over_s for a in accs)
    measured = any(a.seconds > 0 for a in accs)
    return {
        "ld": None if d is None else _level_of(accs[0]),
        "ln": None if n is None else _level_of(accs[-1]),
        "limit_day": None if day is None else limits.at(day.start_ms, Period.DAY),
        "limit_night": None if night is None else limits.at(night.start_ms, Period.NIGHT),
        "minutes_over": over_s / 60 if measured else None,
    }


def _level_of(a: _Acc) -> float | None:
    return None if a.seconds <= 0 else round(level_of(a.energy, a.seconds), LEVEL_DECIMALS)


def _fume_figures(f: _FumeAcc) -> dict[str, float | None]:
    if f.n == 0:  # nothing measured: nulls, never zero minutes
        return {"fume_mean": None, "fan_on_min": None, "purifier_on_min": None}
    return {
        "fume_mean": None if f.fume_n == 0 else round(f.fume_sum / f.fume_n, FUME_DECIMALS),
        "fan_on_min": f.fan_s / 60,
        "purifier_on_min": f.purifier_s / 60,
        "purifier_rate": None
        if f.known_fan_s <= 0
        else round(f.purified_s / f.known_fan_s, RATE_DECIMALS),
    }


def _summary(
    days: list[Day],
    periods: list[Span],
    noise: list[_Acc] | None,
    fume: list[_FumeAcc] | None,
    cover: list[_Acc],
) -> Figures:
    """The month: energetic Ld/Ln over all its days and nights (never a mean of daily dB),
    coverage over all their time, minutes and counts summed."""
    values: dict[str, float | int | None] = {}
    for period, level, limit_name, cover_name in (
        (Period.DAY, "ld", "limit_day", "coverage_day"),
        (Period.NIGHT, "ln", "limit_night", "coverage_night"),
    ):
        idx = [i for i, s in enumerate(periods) if s.period is period]
        length = sum(periods[i].end_ms - periods[i].start_ms for i in idx)
        covered = sum(
            covered_s(cover[i].intervals, periods[i].end_ms - periods[i].start_ms) for i in idx
        )
        values[cover_name] = round(covered * 1000 / length, RATE_DECIMALS) if length else 0.0
        if noise is not None:
            total = _Acc()
            for i in idx:
                total.energy += noise[i].energy
                total.seconds += noise[i].seconds
            values[level] = _level_of(total)
            seen = {getattr(day.figures, limit_name) for day in days} - {None}
            values[limit_name] = seen.pop() if len(seen) == 1 else None  # changed: see the days
    if noise is not None:
        measured = any(a.seconds > 0 for a in noise)
        values["minutes_over"] = math.fsum(a.over_s for a in noise) / 60 if measured else None
    if fume is not None:
        total_f = _FumeAcc()
        for f in fume:
            total_f.add(f)
        values.update(_fume_figures(total_f))
    values["cases_opened"] = sum(day.figures.cases_opened for day in days)
    values["complaints"] = sum(day.figures.complaints for day in days)
    return Figures(**values)  # type: ignore[arg-type]


# -- a day's verdict (the public page, CONTRACT §11) -----------------------------------------


class Verdict(StrEnum):
    """A day within the limits, over them, or not known (not covered enough)."""

    WITHIN = "within"
    OVER = "over"
    UNKNOWN = "unknown"


def _period_verdict(
    level: float | None, limit: float | None, coverage: float, min_coverage: float
) -> Verdict:
    if level is None or limit is None or coverage <= 0:
        return Verdict.UNKNOWN
    # What is missing can only add energy: the whole period's level is at least the part's
    # energy spread over the whole period, so a part that loud proves the period over.
    if level + 10 * math.log10(min(coverage, 1.0)) > limit:
        return Verdict.OVER
    if coverage >= min_coverage and level <= limit:
        return Verdict.WITHIN
    return Verdict.UNKNOWN


def day_verdict(
    figures: Figures,
    *,
    min_coverage: float = 0.75,
    fume_limit_mg: float | None = None,
    purifier_off_min: float = 10.0,
) -> Verdict:
    """Whether a day was within its limits: noise by its day's Ld and its night's Ln
    against the limits in force, fume by its mean while the fan ran against
    `fume_limit_mg` and the fan's minutes without the purifier (over at
    `purifier_off_min`, GB 18483-2001 §5.1). Over when any part is proven over, within
    when every part is covered (`min_coverage`, HJ 906's valid-data rate) and within,
    else unknown."""
    verdicts: list[Verdict] = []
    f = figures
    if f.limit_day is not None or f.limit_night is not None:
        verdicts.append(_period_verdict(f.ld, f.limit_day, f.coverage_day, min_coverage))
        verdicts.append(_period_verdict(f.ln, f.limit_night, f.coverage_night, min_coverage))
    if f.fan_on_min is not None:
        covered = min(f.coverage_day, f.coverage_night) >= min_coverage
        over = fume_limit_mg is not None and f.fume_mean is not None and f.fume_mean > fume_limit_mg
        if f.purifier_rate is not None:
            unpurified = round(f.fan_on_min * (1 - f.purifier_rate), 1)  # the rate is rounded
            over = over or unpurified >= purifier_off_min
        verdicts.append(Verdict.OVER if over else Verdict.WITHIN if covered else Verdict.UNKNOWN)
    if not verdicts:
        return Verdict.UNKNOWN
    if Verdict.OVER in verdicts:
        return Verdict.OVER
    if all(v is Verdict.WITHIN for v in verdicts):
        return Verdict.WITHIN
    return Verdict.UNKNOWN
