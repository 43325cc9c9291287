"""In-memory versions of the core's ports, for tests (STYLE §8)."""

from __future__ import annotations

from collections.abc import Iterable

from linli.rules.reading import Reading


class MemoryHistory:
    """`ReadingHistory` (rules/ports.py) in memory: what was `add`ed, newest per (sensor, time)."""

    def __init__(self) -> None:
        self._readings: dict[str, dict[int, Reading]] = {}

    def add(self, readings: Iterable[Reading]) -> None:
        """Store readings (the same sensor and time again replaces, as in InfluxDB)."""
        for r in readings:
            self._readings.setdefault(r.sensor, {})[r.ts_ms] = r

    def newest(self, since_ms: int) -> dict[str, int]:
        """Each sensor's newest reading time at or after `since_ms`."""
        out = {}
        for sensor, by_ts in self._readings.items():
            newest = max(by_ts, default=None)
            if newest is not None and newest >= since_ms:
                out[sensor] = newest
        return out

    def readings_after(
        self, sensor: str, after_ms: int, until_ms: int | None = None
    ) -> list[Reading]:
        """A sensor's readings later than `after_ms` (up to `until_ms`), oldest first."""
        return [
            r
            for ts, r in sorted(self._readings.get(sensor, {}).items())
            if ts > after_ms and (until_ms is None or ts <= until_ms)
        ]
