"""The legal limits readings are judged against, with the standard and clause (DOMAIN.md).

Small, frozen data and pure functions: ingest writes the noise limit in force with every
reading (so InfluxQL and Grafana can compare a level with its own limit), and the rule
engine judges breaches with the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from linli.rules.registry import Zone


@dataclass(frozen=True, slots=True)
class NoiseLimit:
    """The LAeq limits, dB(A), of one GB 3096 zone class."""

    zone: Zone
    day_db: float
    night_db: float


# GB 3096-2008 §5.1, Table 1 (环境噪声限值): equivalent continuous A-weighted level,
# dB(A), by acoustic environment function zone class (§4).
GB3096_NOISE_LIMITS: Final[dict[Zone, NoiseLimit]] = {
    limit.zone: limit
    for limit in (
        NoiseLimit(Zone.Z0, 50.0, 40.0),
        NoiseLimit(Zone.Z1, 55.0, 45.0),
        NoiseLimit(Zone.Z2, 60.0, 50.0),
        NoiseLimit(Zone.Z3, 65.0, 55.0),
        NoiseLimit(Zone.Z4A, 70.0, 55.0),
        NoiseLimit(Zone.Z4B, 70.0, 60.0),
    )
}

# GB 3096-2008 §5.4: at night a sudden noise's maximum level may exceed the limit by at
# most 15 dB(A).
NIGHT_LMAX_EXCESS_DB: Final = 15.0

# GB 18483-2001, Table 2: maximum allowed cooking-fume emission concentration, the same
# for small, medium and large establishments. Stricter local standards exist (DOMAIN.md).
GB18483_OIL_FUME_MG_M3: Final = 2.0


@dataclass(frozen=True, slots=True)
class DayNight:
    """Local hours when day and night begin.

    GB 3096-2008 §3 (terms), after the noise law: day is 06:00–22:00, night 22:00–06:00;
    a county-level government may move the boundaries, so both are configurable.
    """

    day_start_h: int = 6
    night_start_h: int = 22

    def __post_init__(self) -> None:
        if not (0 <= self.day_start_h < self.night_start_h <= 24):
            raise ValueError(
                f"day starts at {self.day_start_h}h and night at {self.night_start_h}h: "
                "need 0 ≤ day start < night start ≤ 24"
            )

    def is_night(self, local_hour: int) -> bool:
        """True for an hour (0–23, local time) that belongs to the night."""
        return not (self.day_start_h <= local_hour < self.night_start_h)


def noise_limit_db(zone: Zone, night: bool) -> float:
    """The GB 3096 LAeq limit of `zone` by day or by night."""
    limit = GB3096_NOISE_LIMITS[zone]
    return limit.night_db if night else limit.day_db


class LocalHours:
    """Epoch milliseconds → local hour of day, cached per quarter hour (hot path of ingest).

    Every time zone's UTC offset is a whole number of quarter hours and changes only on a
    quarter-hour boundary, so the local hour is constant within a UTC quarter hour.
    """

    __slots__ = ("_cache", "_tz")

    _QUARTER_MS: Final = 15 * 60 * 1000

    def __init__(self, tz: str) -> None:
        self._tz = ZoneInfo(tz)
        self._cache: dict[int, int] = {}

    def hour(self, ts_ms: int) -> int:
        """The local hour (0–23) at `ts_ms`."""
        quarter = ts_ms // self._QUARTER_MS
        hour = self._cache.get(quarter)
        if hour is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            when = datetime.fromtimestamp(quarter * self._QUARTER_MS / 1000, UTC)
            hour = self._cache[quarter] = when.astimezone(self._tz).hour
        return hour
