"""A site's readings over a month, read back for its report (CONTRACT §10, rules/month.py).

One query per measurement for the whole site, only the fields the figures need, grouped
by sensor: a month of one sensor's 1-minute readings is ~44 000 rows. The noise rows
carry the limit each reading was stored with (`limit_db`, ingest/lineprotocol.py), which
is how the limits in force over the month are known (rules/month.limits_from_stored).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from linli.influx.client import InfluxClient, ResultSeries
from linli.rules.constants import (
    F_FAN_ON,
    F_FLAG,
    F_LAEQ,
    F_LIMIT_DB,
    F_OIL_FUME,
    F_PERIOD_S,
    F_PURIFIER_CURRENT,
    F_PURIFIER_ON,
    M_FUME,
    M_NOISE,
    TAG_SENSOR,
    TAG_SITE,
)
from linli.rules.month import StoredLimit
from linli.rules.reading import Metric, Reading, SensorKind

NOISE_FIELDS: Final = (F_LAEQ, F_PERIOD_S, F_FLAG, F_LIMIT_DB)
FUME_FIELDS: Final = (F_OIL_FUME, F_FAN_ON, F_PURIFIER_ON, F_PURIFIER_CURRENT, F_PERIOD_S, F_FLAG)
DEFAULT_PERIOD_S: Final = 60


class MonthReadings(NamedTuple):
    """A site's readings over a span, and the limits its noise readings were stored with."""

    readings: list[Reading]
    limits: list[StoredLimit]


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _query(measurement: str, fields: tuple[str, ...], site: str, from_ms: int, to_ms: int) -> str:
    columns = ", ".join(f'"{f}"' for f in fields)
    return (
        f'SELECT {columns} FROM "{measurement}" WHERE "{TAG_SITE}" = {_literal(site)} '
        f'AND time >= {from_ms}ms AND time < {to_ms}ms GROUP BY "{TAG_SENSOR}"'
    )


def _columns(s: ResultSeries, fields: tuple[str, ...]) -> list[int]:  # (fume)
    """Each field's column; a field no point of the span has points at a null column."""
    null = len(s.columns)
    return [s.columns.index(f) if f in s.columns else null for f in fields]


def _noise(series: list[ResultSeries], out: MonthReadings) -> None:
    noise = SensorKind.NOISE
    readings, limits = out.readings, out.limits
    for s in series:
        sensor = s.tags.get(TAG_SENSOR, "")
        if s.columns == ["time", *NOISE_FIELDS]:  # every field there: the fast path
            rows = s.values
        else:  # a field no point of the span has: null
            null = len(s.columns)
            at = [s.columns.index(f) if f in s.columns else null for f in ("time", *NOISE_FIELDS)]
            rows = [[[*v, None][i] for i in at] for v in s.values]
        for ts, laeq, period, flag, limit in rows:
            if laeq is None:
                continue
            period_s = period or DEFAULT_PERIOD_S
            readings.append(Reading(sensor, noise, ts, 0, period_s, {F_LAEQ: laeq}, flag))
            if limit is not None and flag is None:
                limits.append(StoredLimit(ts, period_s, limit))


def _fume(series: list[ResultSeries], out: MonthReadings) -> None:
    metrics = (F_OIL_FUME, F_FAN_ON, F_PURIFIER_ON, F_PURIFIER_CURRENT)
    for s in series:
        sensor = s.tags.get(TAG_SENSOR, "")
        index = dict(zip(FUME_FIELDS, _columns(s, FUME_FIELDS), strict=True))
        for fetched in s.values:
            row = [*fetched, None]
            values: dict[str, Metric] = {
                m: row[index[m]] for m in metrics if row[index[m]] is not None
            }
            if not values:
                continue
            period = int(row[index[F_PERIOD_S]] or DEFAULT_PERIOD_S)
            out.readings.append(
                Reading(sensor, SensorKind.FUME, int(row[0]), 0, period, values, row[index[F_FLAG]])
            )


def month_readings(influx: InfluxClient, site: str, from_ms: int, to_ms: int) -> MonthReadings:
    """Every noise and fume reading of a site stamped in `[from_ms, to_ms)` (flagged ones
    too: the computation leaves them out), with the limits the noise ones were stored with."""
    out = MonthReadings([], [])
    _noise(influx.query(_query(M_NOISE, NOISE_FIELDS, site, from_ms, to_ms)), out)
    _fume(influx.query(_query(M_FUME, FUME_FIELDS, site, from_ms, to_ms)), out)
    return out
