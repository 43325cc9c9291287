"""A site's month (CONTRACT §10), against figures computed by hand in each test."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from linli.rules.limits import Period
from linli.rules.localtime import Calendar
from linli.rules.month import (
    FIELDS,
    Figures,
    LimitChange,
    LimitsInForce,
    Month,
    Verdict,
    day_verdict,
    fetch_range,
    parse_month,
    site_month,
    spans,
)
from linli.rules.reading import Reading, SensorKind
from tests.rules.conftest import SHANGHAI, fume_at, noise_at

CAL = Calendar()  # Asia/Shanghai, night 22:00–06:00
CLASS_2 = LimitsInForce.constant(60, 50)  # GB 3096-2008 表1 class 2
NOV = Month(2025, 11)


def at(day: int, hhmm: str, month: int = 11, year: int = 2025) -> int:
    """Epoch ms of `year-month-day HH:MM` local (Asia/Shanghai)."""
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(year, month, day, h, m, tzinfo=SHANGHAI).timestamp() * 1000)


def row(result, day: int) -> Figures:
    found = [d for d in result.days if d.date == date(2025, 11, day)]
    assert len(found) == 1
    return found[0].figures


def energetic(*levels: float) -> float:
    """Equal times, by hand: 10·log10(mean(10^(L/10))), to 0.1 dB."""
    return round(10 * math.log10(sum(10 ** (x / 10) for x in levels) / len(levels)), 1)


def test_ld_and_ln_split_at_22_00_by_the_period_each_reading_measured():
    readings = [
        noise_at(at(3, "21:59"), 60),  # measured 21:58–21:59: day
        noise_at(at(3, "22:00"), 80),  # measured 21:59–22:00: still day
        noise_at(at(3, "22:01"), 40),  # measured 22:00–22:01: night
        noise_at(at(3, "22:02"), 43),
    ]
    f = row(site_month("s", NOV, readings, CLASS_2, CAL), 3)
    # 10·log10((10^6 + 10^8)/2) = 77.03; 10·log10((10^4 + 10^4.3)/2) = 41.75
    assert (f.ld, f.ln) == (77.0, 41.8) == (energetic(60, 80), energetic(40, 43))
    assert (f.limit_day, f.limit_night) == (60, 50)
    assert f.minutes_over == 1.0  # 80 > 60; 60 is not over 60, nor 40/43 over 50
    assert f.coverage_day == round(120 / 57_600, 4)
    assert f.coverage_night == round(120 / 28_800, 4)


def test_the_last_night_of_the_month_reaches_into_the_next():
    readings = [
        noise_at(at(30, "23:00"), 55),
        noise_at(at(1, "03:00", month=12), 45),
        noise_at(at(1, "06:00", month=12), 45),  # measured 05:59–06:00: that night
        noise_at(at(1, "06:01", month=12), 90),  # December's first day
    ]
    nov = site_month("s", NOV, readings, CLASS_2, CAL)
    # (10^5.5 + 2·10^4.5)/3 = 126 491 → 51.02
    assert row(nov, 30).ln == 51.0 == energetic(55, 45, 45)
    assert row(nov, 30).ld is None
    assert nov.summary.ln == 51.0 and nov.summary.ld is None
    dec = site_month("s", Month(2025, 12), readings, CLASS_2, CAL)
    first = dec.days[0]
    assert first.date == date(2025, 12, 1)
    assert (first.figures.ld, first.figures.ln) == (90.0, None)


def test_local_days_of_asia_shanghai_have_no_dst():
    periods = spans(Month(2024, 2), CAL)
    assert len(periods) == 2 * 29  # a leap February: a day and a night each date
    assert {s.end_ms - s.start_ms for s in periods if s.period is Period.DAY} == {16 * 3600_000}
    assert {s.end_ms - s.start_ms for s in periods if s.period is Period.NIGHT} == {8 * 3600_000}
    assert periods[0].start_ms == at(1, "06:00", month=2, year=2024)
    assert periods[-1].end_ms == at(1, "06:00", month=3, year=2024)
    # 00:30 on the 3rd local (16:30 UTC on the 2nd) is the night that began on the 2nd
    result = site_month("s", NOV, [noise_at(at(3, "00:31"), 52)], CLASS_2, CAL)
    assert (row(result, 2).ln, row(result, 3).ln) == (52.0, None)
    start, end = fetch_range(NOV, CAL)
    assert start <= at(1, "00:00") and end >= at(1, "06:00", month=12)


def test_a_limit_change_mid_month():
    limits = LimitsInForce(
        [
            LimitChange(-(2**62), 60, 50),
            LimitChange(at(15, "00:00"), 55, 45),  # the site became class 1
            LimitChange(at(16, "12:00"), 50, 40),  # then class 0 at noon
        ]
    )
    readings = [
        noise_at(at(14, "12:00"), 58),
        noise_at(at(15, "12:00"), 58),
        noise_at(at(16, "11:00"), 53),
        noise_at(at(16, "13:00"), 53),
    ]
    result = site_month("s", NOV, readings, limits, CAL)
    assert (row(result, 14).limit_day, row(result, 14).minutes_over) == (60, 0.0)
    assert (row(result, 15).limit_day, row(result, 15).minutes_over) == (55, 1.0)
    # the 16th's day began under 55; the 13:00 reading is judged by the 50 in force then
    assert (row(result, 16).limit_day, row(result, 16).limit_night) == (55, 40)
    assert row(result, 16).minutes_over == 1.0
    assert result.summary.limit_day is None  # changed during the month: see the days
    assert result.summary.minutes_over == 2.0


def test_half_a_day_missing_is_flagged_by_its_coverage_never_silently():
    # 06:00–14:00 covered by 480 one-minute readings, alternating 50 and 60 dB
    readings = [
        noise_at(at(10, "06:01") + i * 60_000, 50 if i % 2 == 0 else 60) for i in range(480)
    ]
    f = row(site_month("s", NOV, readings, CLASS_2, CAL), 10)
    assert f.coverage_day == 0.5
    assert f.ld == energetic(50, 60) == 57.4  # 10·log10((10^5 + 10^6)/2) = 57.40
    assert (f.ln, f.coverage_night) == (None, 0.0)
    assert day_verdict(f) is Verdict.UNKNOWN


def test_several_sensors_cover_a_period_once():
    twin = [Reading("n-02", SensorKind.NOISE, at(4, "12:00"), 0, 60, {"laeq": 70.0})]
    f = row(site_month("s", NOV, [noise_at(at(4, "12:00"), 50), *twin], CLASS_2, CAL), 4)
    assert f.coverage_day == round(60 / 57_600, 4)  # one minute, measured twice
    assert f.ld == energetic(50, 70)


def test_flagged_readings_are_not_monitoring_data():
    flagged = noise_at(at(5, "12:00"), 95)._replace(flag="M")
    f = row(site_month("s", NOV, [flagged, noise_at(at(5, "12:01"), 50)], CLASS_2, CAL), 5)
    assert (f.ld, f.minutes_over, f.coverage_day) == (50.0, 0.0, round(60 / 57_600, 4))


def test_no_readings_gives_nulls_and_coverage_zero():
    result = site_month("s", NOV, [], CLASS_2, CAL, kinds=[SensorKind.NOISE])
    assert len(result.days) == 30
    for d in (*[d.figures for d in result.days], result.summary):
        assert (d.ld, d.ln, d.minutes_over) == (None, None, None)
        assert (d.coverage_day, d.coverage_night) == (0.0, 0.0)
        assert (d.fume_mean, d.fan_on_min, d.purifier_rate) == (None, None, None)
    assert row(result, 1).limit_day == 60  # the limits in force are still known
    assert day_verdict(row(result, 1)) is Verdict.UNKNOWN


def test_a_fume_site():
    fan = {"fan_on": True}
    readings = [
        *[fume_at(at(5, "12:01") + i * 60_000, 1.0, **fan, purifier_on=True) for i in range(5)],
        fume_at(at(5, "12:06"), 3.0, **fan, purifier_on=True),
        *[fume_at(at(5, "12:07") + i * 60_000, 3.0, **fan, purifier_on=False) for i in range(4)],
        # the purifier says on, its current says off: the current decides (as the rule does)
        fume_at(at(5, "12:11"), 2.0, **fan, purifier_on=True, purifier_current=0.2),
        # the fan off: not in the mean
        *[
            fume_at(at(5, "13:01") + i * 60_000, 0.1, fan_on=False, purifier_on=False)
            for i in range(5)
        ],
    ]
    result = site_month("s", NOV, readings, CLASS_2, CAL)
    assert (result.noise, result.fume) == (False, True)
    f = row(result, 5)
    assert f.fume_mean == 2.0  # (5·1.0 + 5·3.0 + 2.0) / 11
    assert (f.fan_on_min, f.purifier_on_min) == (11.0, 6.0)
    assert f.purifier_rate == round(6 / 11, 4)
    assert (f.ld, f.limit_day, f.minutes_over) == (None, None, None)
    assert f.coverage_day == round(16 * 60 / 57_600, 4)  # fume readings cover a fume site
    assert result.summary.fan_on_min == 11.0 and result.summary.purifier_rate == round(6 / 11, 4)
    # 11 − 6 = 5 min unpurified: over at 5, not at 10; the mean 2.0 is not over 2.0
    assert day_verdict(f, purifier_off_min=5, min_coverage=0) is Verdict.OVER
    assert day_verdict(f, fume_limit_mg=2.0, min_coverage=0) is Verdict.WITHIN
    assert day_verdict(f, fume_limit_mg=1.5, min_coverage=0) is Verdict.OVER
    assert row(result, 6).fan_on_min is None  # no readings that day


def test_cases_and_complaints_counted_by_local_date():
    result = site_month(
        "s",
        NOV,
        [],
        CLASS_2,
        CAL,
        cases_opened_ms=[at(3, "00:10"), at(3, "23:50"), at(4, "09:00")],
        complaints_ms=[at(4, "01:00"), at(1, "00:00", month=12)],  # December's: not counted
    )
    assert (row(result, 3).cases_opened, row(result, 4).cases_opened) == (2, 1)
    assert (row(result, 3).complaints, row(result, 4).complaints) == (0, 1)
    assert (result.summary.cases_opened, result.summary.complaints) == (3, 1)


def test_the_summary_is_energetic_over_the_month_not_a_mean_of_days():
    readings = [noise_at(at(1, "12:00"), 60), noise_at(at(2, "12:00"), 80)]
    result = site_month("s", NOV, readings, CLASS_2, CAL)
    assert result.summary.ld == 77.0  # not (60 + 80)/2
    assert result.summary.coverage_day == round(120 / (30 * 57_600), 4)
    assert result.summary.limit_day == 60


def full(level: float, period: Period) -> list[Reading]:
    """The 12th's day or night covered by 1-minute readings at `level`."""
    start = at(12, "06:00") if period is Period.DAY else at(12, "22:00")
    n = 16 * 60 if period is Period.DAY else 8 * 60
    return [noise_at(start + (i + 1) * 60_000, level) for i in range(n)]


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        pytest.param(
            full(55, Period.DAY) + full(45, Period.NIGHT),
            Verdict.WITHIN,
            id="day and night covered and under → within",
        ),
        pytest.param(
            full(55, Period.DAY) + full(52, Period.NIGHT),
            Verdict.OVER,
            id="night over its limit → over",
        ),
        pytest.param(full(55, Period.DAY), Verdict.UNKNOWN, id="night not covered → unknown"),
        pytest.param(
            full(75, Period.DAY)[:480],
            Verdict.OVER,
            id="half a day at 75 proves the day over 60 whatever is missing → over",
        ),
    ],
)
def test_day_verdict(readings, expected):
    assert day_verdict(row(site_month("s", NOV, readings, CLASS_2, CAL), 12)) is expected


@pytest.mark.parametrize(
    "text", ["2025-13", "2025-1", "25-11", "2025/11", "", "2025-00", "november"]
)
def test_a_malformed_month_is_refused_in_one_sentence(text):
    with pytest.raises(ValueError, match="is not a month as YYYY-MM"):
        parse_month(text)


def test_month_parsing_and_fields():
    assert parse_month("2025-11") == NOV and str(NOV) == "2025-11"
    assert (NOV.next(), NOV.previous()) == (Month(2025, 12), Month(2025, 10))
    assert Month(2025, 12).next() == Month(2026, 1)
    assert FIELDS[:3] == ("ld", "ln", "limit_day") and FIELDS[-2:] == ("cases_opened", "complaints")
