"""What a community may change in its dashboards: its calendar (time zone, night), fume limit."""

from __future__ import annotations

from dataclasses import dataclass, field

from linli.rules.limits import GB18483_OIL_FUME_MG_M3
from linli.rules.localtime import Calendar, format_hhmm


@dataclass(frozen=True, slots=True)
class Options:
    """Inputs of the generator; the committed JSON is built with the defaults.

    `calendar` is the community's, the one its rule engine judges by and ingest writes
    `limit_db` by. The dashboards split day and night by the readings' whole local hour
    (`hour_local`), so a night that does not begin and end on the hour raises ValueError.
    """

    calendar: Calendar = field(default_factory=Calendar)
    oil_fume_limit: float = GB18483_OIL_FUME_MG_M3

    def __post_init__(self) -> None:
        night_hours(self.calendar)

    @property
    def tz(self) -> str:
        """The community's time zone (LINLI_TZ)."""
        return self.calendar.tz

    @property
    def night_hours(self) -> tuple[int, int]:
        """The local hours (0–23) when night begins and when day begins."""
        return night_hours(self.calendar)


def night_hours(calendar: Calendar) -> tuple[int, int]:
    """(night start, day start) as whole local hours 0–23; ValueError when not on the hour."""
    start, end = calendar.night_start_min, calendar.night_end_min
    span = f"night {format_hhmm(start)}-{format_hhmm(end)}"
    for minute in (start, end):
        if minute % 60:
            raise ValueError(
                f"{span}: {format_hhmm(minute)} is not on the hour, and the dashboards split "
                "day and night by whole local hours (hour_local); put the community's night "
                "on whole hours to build them"
            )
    start_h, end_h = start // 60 % 24, end // 60 % 24
    if start_h == end_h:
        raise ValueError(f"{span}: the dashboards need both day and night hours")
    return start_h, end_h
