"""One sensor's recent trusted readings, with running sums: a rule's window in O(log n).

The rules ask the same few questions of every window: how long the readings in it
cover, their energetic LAeq, the mean of a fume metric while the fan ran. Summing the
window afresh for every reading costs its length (600 sums for a 10-minute window of
1-second readings); prefix sums answer in two bisects and a subtraction. The series
holds only the rules' longest window (`keep_ms`), so its memory is bounded per sensor.

Sums are `float` differences of prefix sums, rebased whenever the front is dropped, so
they never grow beyond a window's own energy; rules round their results (0.1 dB,
0.01 mg/m³), far above the rounding of a subtraction.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable, Iterable
from typing import Final

from linli.rules.energy import sound_energy
from linli.rules.reading import Reading, SensorKind

FUME_METRICS: Final = ("oil_fume", "pm", "nmhc")

# What each reading adds to the sums, by sensor kind; the index of each column below.
T, E = 0, 1  # noise: seconds covered by LAeq, seconds × 10^(LAeq/10)
FAN_T = 0  # fume: seconds with the fan running; then (sum, count) per FUME_METRICS


def fan_running(r: Reading) -> bool:
    """A fume reading with the fan on (a monitor without a fan state counts as running)."""
    return r.metrics.get("fan_on", True) is True


def _noise_step(cum: tuple[float, ...], r: Reading) -> tuple[float, ...]:
    laeq = r.metrics.get("laeq")
    if laeq is None or isinstance(laeq, bool):
        return cum
    t, e = cum  # written out: the common case, twice as fast as the general step
    return (t + r.period_s, e + sound_energy(laeq, r.period_s))


def _fume_row(r: Reading) -> tuple[float, ...]:
    if not fan_running(r):
        return (0.0,) * (1 + 2 * len(FUME_METRICS))
    row = [float(r.period_s)]
    for name in FUME_METRICS:
        value = r.metrics.get(name)
        if value is None or isinstance(value, bool):
            row += (0.0, 0.0)
        else:
            row += (float(value), 1.0)
    return tuple(row)


def _fume_step(cum: tuple[float, ...], r: Reading) -> tuple[float, ...]:
    return tuple(map(operator.add, cum, _fume_row(r)))


def _noise_diff(hi: tuple[float, ...], lo: tuple[float, ...]) -> tuple[float, ...]:
    (t1, e1), (t0, e0) = hi, lo  # written out: twice as fast as the general difference
    return (t1 - t0, e1 - e0)


def _diff(hi: tuple[float, ...], lo: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(map(operator.sub, hi, lo))


# The prefix sums after one more reading, by sensor kind.
STEPS: Final[dict[SensorKind, Callable[[tuple[float, ...], Reading], tuple[float, ...]]]] = {
    SensorKind.NOISE: _noise_step,
    SensorKind.FUME: _fume_step,
}
# The column sums between two prefix rows, by sensor kind.
DIFFS: Final[
    dict[SensorKind, Callable[[tuple[float, ...], tuple[float, ...]], tuple[float, ...]]]
] = {
    SensorKind.NOISE: _noise_diff,
    SensorKind.FUME: _diff,
}
WIDTH: Final = {SensorKind.NOISE: 2, SensorKind.FUME: 1 + 2 * len(FUME_METRICS)}


def fume_column(metric: str) -> int:
    """The column of a fume metric's sum (its count is the next one)."""
    return 1 + 2 * FUME_METRICS.index(metric)


class Series:
    """A sensor's trusted readings within `keep_ms` of the newest, oldest first."""

    __slots__ = ("_cum", "_diff", "_first", "_step", "keep_ms", "readings", "ts")

    def __init__(self, kind: SensorKind, keep_ms: int, readings: Iterable[Reading] = ()) -> None:
        self.keep_ms = keep_ms
        self._step = STEPS[kind]
        self._diff = DIFFS[kind]
        self._first = 0  # readings before this index are dropped (removed in bulk)
        self.ts: list[int] = []
        self.readings: list[Reading] = []
        # prefix sums, one row per reading and one before them: _cum[k] sums readings [0, k)
        self._cum: list[tuple[float, ...]] = [(0.0,) * WIDTH[kind]]
        self.extend(readings)
        self.trim()

    def __len__(self) -> int:
        return len(self.ts) - self._first

    def add(self, r: Reading) -> None:
        """Insert a reading by time (the same time again replaces it); see `trim`."""
        self.extend((r,))

    def extend(self, readings: Iterable[Reading]) -> None:
        """`add` each reading, in one call: newer ones are appended, others inserted."""
        ts, held, cum, step = self.ts, self.readings, self._cum, self._step
        for r in readings:
            if not ts or r.ts_ms > ts[-1]:
                ts.append(r.ts_ms)
                held.append(r)
                cum.append(step(cum[-1], r))
            else:  # out of order or again: rare (late data)
                self._insert(r)

    def _insert(self, r: Reading) -> None:
        """Insert a reading among the held ones and re-sum from there."""
        ts = self.ts
        i = bisect.bisect_left(ts, r.ts_ms, self._first)
        if i < len(ts) and ts[i] == r.ts_ms:
            self.readings[i] = r
        else:
            ts.insert(i, r.ts_ms)
            self.readings.insert(i, r)
        self._resum(i)

    def trim(self) -> None:
        """Drop the readings older than `keep_ms` before the newest.

        Apart from `add`, so that a run of readings added together is judged with each
        one's whole window, and trimmed once afterwards.
        """
        if self.ts:
            self._drop(self.ts[-1] - self.keep_ms)

    def discard(self, times_ms: Iterable[int]) -> None:
        """Remove the readings at these times (a stuck run is no evidence of anything)."""
        gone = set(times_ms)
        first = min(
            (i for i in range(self._first, len(self.ts)) if self.ts[i] in gone), default=None
        )
        if first is None:
            return
        kept = [r for r in self.readings[first:] if r.ts_ms not in gone]
        del self.ts[first:], self.readings[first:]
        self.ts += [r.ts_ms for r in kept]
        self.readings += kept
        self._resum(first)

    def _resum(self, i: int) -> None:
        cum = self._cum
        del cum[i + 1 :]
        for r in self.readings[i:]:
            cum.append(self._step(cum[-1], r))

    def _drop(self, horizon_ms: int) -> None:
        if self.ts[self._first] > horizon_ms:
            return
        first = bisect.bisect_right(self.ts, horizon_ms, self._first)
        self._first = first
        if first > 256 and first * 2 > len(self.ts):
            del self.ts[:first], self.readings[:first]
            base = self._cum[first]
            self._cum[:] = [self._diff(row, base) for row in self._cum[first:]]
            self._first = 0

    def span(self, after_ms: int, until_ms: int) -> tuple[int, int]:
        """Indexes [i, j) of the readings with `after_ms < ts ≤ until_ms`."""
        ts = self.ts
        i = bisect.bisect_right(ts, after_ms, self._first)
        if not ts or until_ms >= ts[-1]:  # up to the newest: the common case
            return i, len(ts)
        return i, bisect.bisect_right(ts, until_ms, i)

    def total(self, column: int, i: int, j: int) -> float:
        """The sum of a column over readings [i, j)."""
        return self._cum[j][column] - self._cum[i][column]

    def sums(self, i: int, j: int) -> tuple[float, ...]:
        """Every column's sum over readings [i, j)."""
        return self._diff(self._cum[j], self._cum[i])

    def has(self, r: Reading) -> bool:
        """Whether this very reading (time and seq) is held."""
        i = bisect.bisect_left(self.ts, r.ts_ms, self._first)
        return i < len(self.ts) and self.ts[i] == r.ts_ms and self.readings[i].seq == r.seq

    def held(self) -> list[Reading]:
        """Every reading held, oldest first."""
        return self.readings[self._first :]
