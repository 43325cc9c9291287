"""What the API asks InfluxDB: a sensor's last signs of life and a site's raw points.

Names of measurements, tags and fields come from rules/constants (CONTRACT §4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from linli.api.series import Bucket, aggregate_for, bucketize
from linli.influx.client import InfluxClient, ResultSeries
from linli.rules.constants import (
    F_ONLINE,
    F_PERIOD_S,
    M_DEVICE,
    M_FUME,
    M_NOISE,
    TAG_SENSOR,
    TAG_SITE,
)
from linli.rules.reading import METRICS, REQUIRED_METRIC, SensorKind
from linli.rules.registry import Sensor


class RangeTooLarge(ValueError):
    """A query would fetch more raw points than the API is allowed to aggregate."""


SensorStatus = Literal["online", "offline", "never_seen", "unknown"]


@dataclass(frozen=True, slots=True)
class Activity:
    """When a sensor was last heard from and what its last status message said."""

    online: bool | None
    last_seen_ms: int | None
    last_reading_ms: int | None
    reachable: bool = True

    @classmethod
    def unknown(cls) -> Activity:
        """Nothing is known: InfluxDB did not answer."""
        return cls(None, None, None, reachable=False)

    @property
    def status(self) -> SensorStatus:
        """The last status message's verdict, `never_seen`, or `unknown`."""
        if self.online is not None:
            return "online" if self.online else "offline"
        if self.reachable and self.last_seen_ms is None:
            return "never_seen"
        return "unknown"


def measurement_of(kind: SensorKind) -> str:
    """The measurement a kind's readings are stored in."""
    return M_NOISE if kind is SensorKind.NOISE else M_FUME


def literal(value: str) -> str:
    """An InfluxQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sensor_activity(influx: InfluxClient, sensor: Sensor) -> Activity:
    """The sensor's last reading, last device message and last online flag."""
    where = f'WHERE "{TAG_SENSOR}" = {literal(sensor.id)}'
    field = REQUIRED_METRIC[sensor.kind]
    reading = _first_row(
        influx, f'SELECT last("{field}") FROM "{measurement_of(sensor.kind)}" {where}'
    )
    online = _first_row(influx, f'SELECT last("{F_ONLINE}") FROM "{M_DEVICE}" {where}')
    device = _first_row(influx, f'SELECT * FROM "{M_DEVICE}" {where} ORDER BY time DESC LIMIT 1')
    last_reading_ms = None if reading is None else int(reading[0])
    seen = [int(row[0]) for row in (reading, device) if row is not None]
    return Activity(
        online=None if online is None else bool(online[1]),
        last_seen_ms=max(seen) if seen else None,
        last_reading_ms=last_reading_ms,
    )


def site_series(
    influx: InfluxClient,
    site: str,
    metric: str,
    from_ms: int,
    to_ms: int,
    every_ms: int,
    max_points: int,
) -> dict[str, list[Bucket]]:
    """Each sensor's buckets of `metric` at `site` in [from_ms, to_ms); RangeTooLarge if huge."""
    measurement = measurement_of(METRICS[metric].kind)
    where = f'WHERE "{TAG_SITE}" = {literal(site)} AND time >= {from_ms}ms AND time < {to_ms}ms'
    counted = _first_row(influx, f'SELECT count("{metric}") FROM "{measurement}" {where}')
    total = 0 if counted is None else int(counted[1])
    if total > max_points:
        raise RangeTooLarge(
            f"{total} readings of {metric!r} at site {site!r} in that range; at most "
            f"{max_points} can be aggregated: narrow from/to"
        )
    out: dict[str, list[Bucket]] = {}
    how = aggregate_for(metric)
    fields = f'"{metric}", "{F_PERIOD_S}"'
    query = f'SELECT {fields} FROM "{measurement}" {where} GROUP BY "{TAG_SENSOR}"'
    for series in influx.query(query):
        rows = [row for row in series.values if row[1] is not None]
        out[series.tags.get(TAG_SENSOR, "")] = bucketize(
            [row[0] for row in rows],
            [float(row[1]) for row in rows],
            [row[2] or 1 for row in rows],
            every_ms,
            how,
        )
    return dict(sorted(out.items()))


def sensors_rows(
    influx: InfluxClient,
    kind: SensorKind,
    sensors: Sequence[str],
    from_ms: int,
    to_ms: int,
    max_points: int,
) -> list[ResultSeries]:
    """Every stored reading of `sensors` (of one kind) in [from_ms, to_ms), SELECT *.

    The query names only these sensors (a merchant's backtest must not read every
    site's readings and filter them afterwards), and the limit counts only theirs: RangeTooLarge
    beyond it, never a silently cut history.
    """
    if not sensors:
        return []
    measurement = measurement_of(kind)
    named = " OR ".join(f'"{TAG_SENSOR}" = {literal(s)}' for s in sorted(sensors))
    where = f"WHERE ({named}) AND time >= {from_ms}ms AND time < {to_ms}ms"
    field = REQUIRED_METRIC[kind]
    counted = _first_row(influx, f'SELECT count("{field}") FROM "{measurement}" {where}')
    total = 0 if counted is None else int(counted[1])
    if total > max_points:
        raise RangeTooLarge(
            f"{total} {measurement} readings of {len(sensors)} sensor(s) in that range; at most "
            f"{max_points} can be replayed: narrow from/to or name a site"
        )
    return influx.query(f'SELECT * FROM "{measurement}" {where}')


def _first_row(influx: InfluxClient, query: str) -> list[Any] | None:
    for series in influx.query(query):
        if series.values:
            return series.values[0]
    return None
