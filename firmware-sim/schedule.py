"""When each device's periods end: every `period_s` seconds, at the device's own phase."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


class Schedule:
    """Period ends of many devices, found for a span of seconds with one numpy expression.

    A period of device i ends at every epoch second t with (t − phase_i) mod period_i = 0,
    so devices with the same period are not synchronised and their messages spread out.
    """

    __slots__ = ("_groups", "period_s", "phase_s")

    def __init__(self, period_s: IntArray, phase_s: IntArray) -> None:
        if period_s.shape != phase_s.shape:
            raise ValueError("period_s and phase_s differ in length")
        self.period_s = period_s
        self.phase_s = phase_s
        self._groups: list[tuple[int, IntArray]] | None = None

    def set_period(self, device: int, period_s: int) -> None:
        """Change one device's period (a config message); its phase stays."""
        if self.period_s[device] != period_s:
            self.period_s[device] = period_s
            self._groups = None

    def readings_per_s(self) -> float:
        """How many readings the devices make per simulated second on average."""
        return float(np.sum(1.0 / self.period_s))

    def due(self, lo: int, hi: int) -> Iterator[tuple[int, IntArray, IntArray]]:
        """(period, devices, end seconds) of the periods ending in [lo, hi], time-ordered."""
        seconds = np.arange(lo, hi + 1, dtype=np.int64)
        for period, members in self._period_groups():
            rows, cols = np.nonzero((seconds[:, None] - self.phase_s[members]) % period == 0)
            if rows.size:
                yield period, members[cols], seconds[rows]

    def every(self, lo: int, hi: int, every_s: int) -> tuple[IntArray, IntArray]:
        """(devices, seconds) at which each device's `every_s` cycle (same phase) comes round."""
        seconds = np.arange(lo, hi + 1, dtype=np.int64)
        rows, devices = np.nonzero((seconds[:, None] - self.phase_s) % every_s == 0)
        return devices.astype(np.int64), seconds[rows]

    def _period_groups(self) -> list[tuple[int, IntArray]]:
        if self._groups is None:
            self._groups = [
                (int(p), np.flatnonzero(self.period_s == p).astype(np.int64))
                for p in np.unique(self.period_s)
            ]
        return self._groups
