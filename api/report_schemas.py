"""HTTP bodies of reports (CONTRACT §10), for the OpenAPI document: the router returns
api/sitemonth.month_doc, validated against these."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FiguresOut(BaseModel):
    """A day's or the month's figures; null: not known (nothing measured it)."""

    ld: float | None = Field(description="energetic LAeq of the day 06–22, dB(A), 0.1 dB")
    ln: float | None = Field(
        description="energetic LAeq of the night 22–06 that begins that evening, dB(A)"
    )
    limit_day: float | None = Field(description="the LAeq limit in force by day, dB(A)")
    limit_night: float | None = Field(description="the LAeq limit in force by night, dB(A)")
    minutes_over: float | None = Field(
        description="minutes of readings over the limit in force (the day and its night)"
    )
    coverage_day: float = Field(description="share of the day covered by valid readings, 0–1")
    coverage_night: float = Field(description="share of the night covered, 0–1")
    fume_mean: float | None = Field(description="mean oil fume while the fan runs, mg/m³")
    fan_on_min: float | None = Field(description="minutes the fan ran")
    purifier_on_min: float | None = Field(description="minutes the purifier ran")
    purifier_rate: float | None = Field(
        description="share of the fan's minutes with the purifier running (开机率), 0–1"
    )
    cases_opened: int = Field(description="cases opened at the site that day")
    complaints: int = Field(description="residents' complaints received (a count only)")


class DayOut(FiguresOut):
    """One day of the month (local date)."""

    date: str = Field(description="YYYY-MM-DD, local")


class SiteMonthOut(BaseModel):
    """A site's month: a row a day and the month's summary (CONTRACT §10)."""

    site: str
    month: str = Field(description="YYYY-MM")
    tz: str = Field(description="the time zone its days are local to")
    noise: bool = Field(description="the site has noise sensors: ld, ln, limits, minutes_over")
    fume: bool = Field(description="the site has fume sensors: fume_mean, fan and purifier")
    days: list[DayOut]
    summary: FiguresOut
