"""Stored readings read back: the engine's replay at start, evidence snapshots, backtests.

`InfluxHistory` is the engine's `ReadingHistory` port (rules/ports.py) on InfluxDB.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from linli.influx.client import InfluxClient, ResultSeries
from linli.rules.constants import F_FLAG, F_PERIOD_S, F_SEQ, M_FUME, M_NOISE, TAG_SENSOR
from linli.rules.reading import METRICS, Reading, SensorKind

MEASUREMENTS = ((M_NOISE, SensorKind.NOISE), (M_FUME, SensorKind.FUME))


# The column each field of a Reading is read from, by name (tests/test_codecs.py compares
# the names with `Reading._fields`): what ingest/lineprotocol.LineBuilder wrote there.
READING_FIELDS: Final = {
    "sensor": TAG_SENSOR,
    "kind": "the measurement (MEASUREMENTS)",
    "ts_ms": "time",
    "seq": F_SEQ,
    "period_s": F_PERIOD_S,
    "metrics": "a column per metric of the kind (rules/reading.METRICS), null ones left out",
    "flag": F_FLAG,
}


def readings_of(rows: Iterable[ResultSeries], kind: SensorKind) -> list[Reading]:
    """InfluxDB rows of `noise` or `fume` (SELECT *) as readings."""
    out = []
    for series in rows:
        cols = series.columns
        for values in series.values:
            row: dict[str, Any] = dict(zip(cols, values, strict=True))
            metrics = {
                name: v
                for name, v in row.items()
                if name in METRICS and v is not None and METRICS[name].kind is kind
            }
            if not metrics:
                continue
            out.append(
                Reading(
                    row[TAG_SENSOR],
                    kind,
                    int(row["time"]),
                    int(row.get(F_SEQ) or 0),
                    int(row.get(F_PERIOD_S) or 60),
                    metrics,
                    row.get(F_FLAG),
                )
            )
    return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


class InfluxHistory:
    """ReadingHistory on InfluxDB's /query (InfluxQL)."""

    def __init__(self, influx: InfluxClient) -> None:
        self._influx = influx

    def newest(self, since_ms: int) -> dict[str, int]:
        """Each sensor's newest reading time at or after `since_ms` (one query per kind)."""
        out: dict[str, int] = {}
        for measurement, _ in MEASUREMENTS:
            q = (
                f'SELECT last("{F_SEQ}") FROM "{measurement}" WHERE time >= {since_ms}ms '
                f'GROUP BY "{TAG_SENSOR}"'
            )
            for series in self._influx.query(q):
                sensor = series.tags.get(TAG_SENSOR) if series.tags else None
                if sensor and series.values:
                    out[sensor] = max(out.get(sensor, 0), int(series.values[0][0]))
        return out

    def readings_after(
        self, sensor: str, after_ms: int, until_ms: int | None = None
    ) -> list[Reading]:
        """A sensor's stored readings later than `after_ms` (up to `until_ms`), oldest first."""
        out: list[Reading] = []
        until = "" if until_ms is None else f" AND time <= {until_ms}ms"
        for measurement, kind in MEASUREMENTS:
            q = (
                f'SELECT * FROM "{measurement}" WHERE "{TAG_SENSOR}" = \'{_quote(sensor)}\' '
                f"AND time > {after_ms}ms{until} ORDER BY time"
            )
            out += readings_of(self._influx.query(q), kind)
        return sorted(out, key=lambda r: r.ts_ms)
