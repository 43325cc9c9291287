"""What a community may change in its dashboards: time zone, day/night, fume limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from linli.rules.limits import GB18483_OIL_FUME_MG_M3, DayNight


@dataclass(frozen=True, slots=True)
class Options:
    """Inputs of the generator; the committed JSON is built with the defaults."""

    tz: str = "Asia/Shanghai"
    day_night: DayNight = field(default_factory=DayNight)
    oil_fume_limit: float = GB18483_OIL_FUME_MG_M3
