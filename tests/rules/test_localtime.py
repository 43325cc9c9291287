"""The community's clock: local hour and night per reading, as ingest asks for them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from linli.rules.limits import Period
from linli.rules.localtime import Calendar, LocalClock, format_hhmm, parse_hhmm

NIGHT_23_07 = {"night_start_min": 23 * 60, "night_end_min": 7 * 60}


def _ms(tz: str, local: str) -> int:
    return int(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


# fmt: off
CLOCK_CASES = [
    pytest.param("Asia/Shanghai", {}, "2026-11-20 21:59:59", (21, False), id="default: 21:59:59 → day"),
    pytest.param("Asia/Shanghai", {}, "2026-11-20 22:00:00", (22, True), id="default: 22:00 → night (GB 3096 §3.7)"),
    pytest.param("Asia/Shanghai", {}, "2026-11-21 06:00:00", (6, False), id="default: 06:00 → day (GB 3096 §3.6)"),
    pytest.param("Asia/Shanghai", NIGHT_23_07, "2026-11-20 22:30:00", (22, False), id="night 23–07: 22:30 → day"),
    pytest.param("Asia/Shanghai", NIGHT_23_07, "2026-11-20 23:00:00", (23, True), id="night 23–07: 23:00 → night"),
    pytest.param("Asia/Shanghai", NIGHT_23_07, "2026-11-21 06:59:59", (6, True), id="night 23–07: 06:59:59 → night"),
    pytest.param("Asia/Shanghai", NIGHT_23_07, "2026-11-21 07:00:00", (7, False), id="night 23–07: 07:00 → day"),
    pytest.param("Asia/Kolkata", NIGHT_23_07, "2026-11-20 22:59:00", (22, False), id="UTC+5:30, 22:59 → day"),
    pytest.param("Asia/Kolkata", NIGHT_23_07, "2026-11-20 23:00:00", (23, True), id="UTC+5:30, 23:00 → night (a UTC half hour)"),
    pytest.param("Europe/Berlin", {}, "2026-03-29 01:59:00", (1, True), id="before the spring DST change: 01:59 → night"),
    pytest.param("Europe/Berlin", {}, "2026-03-29 03:00:00", (3, True), id="after the spring DST change: 03:00"),
    pytest.param("Europe/Berlin", {}, "2026-03-29 06:00:00", (6, False), id="DST day: 06:00 CEST → day"),
]
# fmt: on


def _hour_night(clock: LocalClock, at_ms: int) -> tuple[int, bool]:
    """The clock's answer for a 60-s reading whose period's midpoint is `at_ms`."""
    hour, period = clock.hour_period(at_ms + 30_000, 60)
    return hour, period is Period.NIGHT


@pytest.mark.parametrize(("tz", "night", "local", "expected"), CLOCK_CASES)
def test_local_hour_and_night(tz, night, local, expected):
    clock = LocalClock(Calendar(tz, **night))
    ts = _ms(tz, local)
    assert _hour_night(clock, ts) == expected
    assert _hour_night(clock, ts) == expected  # and again, from the cache


def test_the_clock_agrees_with_the_engines_calendar_every_minute_of_a_day():
    calendar = Calendar("Asia/Shanghai", night_start_min=22 * 60 + 30, night_end_min=7 * 60)
    clock = LocalClock(calendar)
    start = _ms("Asia/Shanghai", "2026-11-20 00:00:00")
    nights = 0
    for minute in range(24 * 60):
        ts = start + minute * 60_000 + 59_999  # the last ms of each minute: same answer
        hour, night = _hour_night(clock, ts)
        assert hour == minute // 60
        assert night == (calendar.period(ts).value == "night")
        nights += night
    assert nights == 90 + 7 * 60  # 22:30–24:00 and 00:00–07:00


def test_a_full_cache_starts_again():
    clock = LocalClock(Calendar())
    start = _ms("Asia/Shanghai", "2026-11-20 00:00:00")
    for minute in range(LocalClock._MAX_ENTRIES + 5):
        _hour_night(clock, start + minute * 60_000)
    assert len(clock._cache) == 5
    assert _hour_night(clock, start) == (0, True)


@pytest.mark.parametrize(
    ("text", "minute"), [("00:00", 0), ("07:00", 420), ("23:30", 1410), ("24:00", 1440)]
)
def test_hhmm_round_trip(text, minute):
    assert parse_hhmm(text) == minute
    assert format_hhmm(minute) == text


# fmt: off
BOUNDS_CASES = [
    pytest.param("Asia/Shanghai", {}, "2026-11-20 21:59:59", ("2026-11-20 06:00", "2026-11-20 22:00"), id="21:59:59: the day 06–22"),
    pytest.param("Asia/Shanghai", {}, "2026-11-20 22:00:00", ("2026-11-20 22:00", "2026-11-21 06:00"), id="22:00: the night begins"),
    pytest.param("Asia/Shanghai", {}, "2026-11-21 00:30:00", ("2026-11-20 22:00", "2026-11-21 06:00"), id="after midnight: last evening's night"),
    pytest.param("Asia/Shanghai", NIGHT_23_07, "2026-11-21 06:59:59", ("2026-11-20 23:00", "2026-11-21 07:00"), id="night 23–07: 06:59:59"),
    pytest.param("Europe/Berlin", {}, "2026-03-29 03:30:00", ("2026-03-28 22:00", "2026-03-29 06:00"), id="the DST night: 7 hours"),
]
# fmt: on


@pytest.mark.parametrize(("tz", "night", "local", "expected"), BOUNDS_CASES)
def test_period_bounds_are_where_the_day_or_night_begins_and_ends(tz, night, local, expected):
    calendar = Calendar(tz, **night)
    start, end = calendar.period_bounds(_ms(tz, local))
    assert (start, end) == (_ms(tz, expected[0]), _ms(tz, expected[1]))
    # consistent with `period`: the same period up to the end, the other one from it
    assert calendar.period(start) is calendar.period(end - 1) is calendar.period(_ms(tz, local))
    assert calendar.period(end) is not calendar.period(start)
    assert calendar.period(start - 1) is not calendar.period(start)


def test_a_calendar_with_night_all_day_has_one_period_without_bounds():
    start, end = Calendar(night_start_min=0, night_end_min=24 * 60).period_bounds(0)
    assert start < -(10**15) and end > 10**15
