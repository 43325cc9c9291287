"""Readings at given local times for the rule tables."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from linli.rules.reading import Reading, SensorKind

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_ms(hhmm: str, day: int = 26) -> int:
    """Epoch ms of 2025-11-`day` HH:MM local (Asia/Shanghai)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(2025, 11, day, h, m, tzinfo=SHANGHAI).timestamp() * 1000)


def noise_at(
    ts_ms: int, laeq: float, seq: int = 0, period_s: int = 60, **metrics: float
) -> Reading:
    """A noise reading of sensor n-01."""
    return Reading("n-01", SensorKind.NOISE, ts_ms, seq, period_s, {"laeq": laeq, **metrics})


def fume_at(
    ts_ms: int, oil_fume: float, seq: int = 0, period_s: int = 60, **metrics: object
) -> Reading:
    """A fume reading of sensor f-01."""
    return Reading("f-01", SensorKind.FUME, ts_ms, seq, period_s, {"oil_fume": oil_fume, **metrics})  # type: ignore[dict-item]
