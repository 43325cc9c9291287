"""Daily profiles in local time, and the sampler's noise and fume built on them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from linli.sim.acoustics import LAEQ, LAMAX
from linli.sim.profiles import Window, build_table, minute_of_day
from linli.sim.sampler import Effect, Sampler
from linli.sim.scenario import EventType

SHANGHAI = ZoneInfo("Asia/Shanghai")
TABLE = build_table()
DEVICES = 40


def at(hhmm: str, tz: ZoneInfo = SHANGHAI) -> int:
    """Epoch seconds of a local time on 2026-11-27."""
    hours, minutes = (int(v) for v in hhmm.split(":"))
    return int(datetime(2026, 11, 27, hours, minutes, tzinfo=tz).timestamp())


def sampler(profile: str, effects: tuple[Effect, ...] = (), seed: int = 1) -> Sampler:
    profiles = np.full(DEVICES, TABLE.index(profile), dtype=np.int64)
    return Sampler(profiles, TABLE, SHANGHAI, np.random.default_rng(seed), effects)


def hourly_laeq(profile: str, end: str) -> float:
    """Median over the devices of the LAeq of the hour ending at `end`."""
    ends = np.full(DEVICES, at(end), dtype=np.int64)
    levels = sampler(profile).noise(np.arange(DEVICES), ends, 3600)
    return float(np.median(levels[:, LAEQ]))


@pytest.mark.parametrize(
    ("profile", "hhmm", "expected_db"),
    [
        pytest.param("ktv", "23:00", 66.0, id="KTV at 23:00: 64 dB background + 2 dB party"),
        pytest.param("ktv", "10:00", 47.5, id="KTV at 10:00: halfway between 47 and 48"),
        pytest.param("restaurant", "12:00", 56.0, id="restaurant lunch peak: 53 + 3"),
        pytest.param("restaurant", "03:00", 43.0, id="restaurant at night"),
        pytest.param("residential", "03:30", 38.0, id="residential night floor"),
        pytest.param("traffic", "08:30", 65.0, id="roadside morning rush: 64 + 1"),
    ],
)
def test_background_table(profile: str, hhmm: str, expected_db: float) -> None:
    minute = int(minute_of_day(at(hhmm), SHANGHAI))
    assert TABLE.noise_db[TABLE.index(profile), minute] == pytest.approx(expected_db)


@pytest.mark.parametrize(
    ("profile", "end", "low", "high"),
    [
        pytest.param("residential", "04:00", 38, 45, id="residential nights are 38-45 dB"),
        pytest.param("residential", "11:00", 50, 55, id="residential days are 50-55 dB"),
        pytest.param("ktv", "23:00", 64, 72, id="KTV is loud at 23:00"),
        pytest.param("ktv", "11:00", 45, 52, id="KTV is quiet in the morning"),
        pytest.param("restaurant", "13:00", 56, 60, id="restaurant lunch"),
        pytest.param("restaurant", "04:00", 42, 47, id="restaurant closed"),
        pytest.param("bbq", "22:00", 60, 66, id="barbecue at night"),
        pytest.param("convenience", "15:00", 52, 56, id="convenience store steady by day"),
        pytest.param("convenience", "03:00", 48, 52, id="convenience store steady at night"),
        pytest.param("traffic", "09:00", 66, 70, id="zone 4a road in the rush hour"),
        pytest.param("traffic", "15:00", 60, 66, id="zone 4a road by day"),
    ],
)
def test_hourly_levels(profile: str, end: str, low: float, high: float) -> None:
    assert low <= hourly_laeq(profile, end) <= high


def test_ktv_is_louder_at_23_than_at_10() -> None:
    assert hourly_laeq("ktv", "23:00") - hourly_laeq("ktv", "10:00") >= 15


def test_restaurant_fume_peaks_at_lunch_not_at_night() -> None:
    s, devices = sampler("restaurant"), np.arange(DEVICES)
    noon = s.fume(devices, np.full(DEVICES, at("12:00"), dtype=np.int64), 60)
    night = s.fume(devices, np.full(DEVICES, at("03:00"), dtype=np.int64), 60)
    assert 0.7 <= float(np.median(noon.oil_fume)) <= 1.1
    assert np.mean((noon.oil_fume >= 0.3) & (noon.oil_fume <= 1.5)) >= 0.9
    assert np.all(night.oil_fume < 0.1)
    assert noon.fan_on.all() and noon.purifier_on.all()
    assert not night.fan_on.any() and not night.purifier_on.any()
    assert np.all((noon.purifier_current >= 2.0) & (noon.purifier_current <= 4.0))
    assert np.all(night.purifier_current <= 0.05)
    assert np.median(noon.pm) > np.median(noon.oil_fume) and np.all(noon.nmhc > night.nmhc)


def test_barbecue_cooks_in_the_evening() -> None:
    s, devices = sampler("bbq"), np.arange(DEVICES)
    evening = s.fume(devices, np.full(DEVICES, at("21:00"), dtype=np.int64), 60)
    noon = s.fume(devices, np.full(DEVICES, at("12:00"), dtype=np.int64), 60)
    assert float(np.median(evening.oil_fume)) > 0.8
    assert np.all(noon.oil_fume < 0.1) and not noon.fan_on.any()


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        pytest.param("11:00-13:30", ["11:00", "13:29"], ["10:59", "13:30"], id="lunch"),
        pytest.param(
            "20:00-02:00", ["20:00", "23:59", "01:59"], ["02:00", "19:59"], id="past midnight"
        ),
        pytest.param("00:00-24:00", ["00:00", "12:00", "23:59"], [], id="all day"),
    ],
)
def test_window(text: str, inside: list[str], outside: list[str]) -> None:
    mask = Window.parse(text).mask()
    minute = {hhmm: int(minute_of_day(at(hhmm), SHANGHAI)) for hhmm in inside + outside}
    assert all(mask[minute[h]] for h in inside)
    assert not any(mask[minute[h]] for h in outside)


@pytest.mark.parametrize(
    ("utc", "tz", "expected"),
    [
        pytest.param(
            "2026-11-27T04:00+00:00", "Asia/Shanghai", 720, id="04:00 UTC is noon in Shanghai"
        ),
        pytest.param(
            "2026-11-27T04:00+00:00", "Europe/Berlin", 300, id="the time zone is configurable"
        ),
        pytest.param("2026-03-29T00:30+00:00", "Europe/Berlin", 90, id="before a DST change"),
        pytest.param("2026-03-29T01:30+00:00", "Europe/Berlin", 210, id="after a DST change"),
    ],
)
def test_minute_of_day(utc: str, tz: str, expected: int) -> None:
    assert (
        int(minute_of_day(int(datetime.fromisoformat(utc).timestamp()), ZoneInfo(tz))) == expected
    )


def test_minute_of_day_across_a_dst_change_in_one_array() -> None:
    spans = [
        int(datetime.fromisoformat(t).timestamp())
        for t in ("2026-03-29T00:30+00:00", "2026-03-29T01:30+00:00")
    ]
    assert minute_of_day(np.array(spans), ZoneInfo("Europe/Berlin")).tolist() == [90, 210]


def test_noise_effect_adds_exactly_its_decibels() -> None:
    end = np.full(DEVICES, at("15:00"), dtype=np.int64)
    devices = np.arange(DEVICES)
    loud = Effect(3, EventType.NOISE, at("14:00"), at("16:00"), add_db=15)
    base = sampler("residential").noise(devices, end, 60)
    louder = sampler("residential", (loud,)).noise(devices, end, 60)
    assert np.allclose(louder[3] - base[3], 15.0)
    assert np.array_equal(np.delete(louder, 3, axis=0), np.delete(base, 3, axis=0))


def test_noise_effect_sets_the_level() -> None:
    end = np.full(DEVICES, at("15:00"), dtype=np.int64)
    parlour = Effect(5, EventType.NOISE, at("14:00"), at("16:00"), set_db=72)
    levels = sampler("convenience", (parlour,)).noise(np.arange(DEVICES), end, 600)
    assert 71 <= levels[5, LAEQ] <= 76 and levels[5, LAMAX] < 95


def test_noise_effect_outside_its_window_changes_nothing() -> None:
    end = np.full(DEVICES, at("15:00"), dtype=np.int64)
    later = Effect(3, EventType.NOISE, at("15:00"), at("16:00"), add_db=15)
    base = sampler("residential").noise(np.arange(DEVICES), end, 60)
    assert np.array_equal(sampler("residential", (later,)).noise(np.arange(DEVICES), end, 60), base)


@pytest.mark.parametrize(
    ("effect", "check"),
    [
        pytest.param(
            Effect(2, EventType.FUME, at("11:00"), at("13:00"), factor=3),
            lambda b, f: abs(f.oil_fume[2] - 3 * b.oil_fume[2]) <= 0.02 and f.purifier_on[2],
            id="fume factor 3 triples the oil fume",
        ),
        pytest.param(
            Effect(2, EventType.FUME, at("11:00"), at("13:00"), set_mg_m3=4.5),
            lambda b, f: 4.0 <= f.oil_fume[2] <= 5.0,
            id="fume set_mg_m3 sets it",
        ),
        pytest.param(
            Effect(2, EventType.PURIFIER_OFF, at("11:00"), at("13:00")),
            lambda b, f: (
                not f.purifier_on[2]
                and f.fan_on[2]
                and f.purifier_current[2] <= 0.05
                and abs(f.oil_fume[2] - 4 * b.oil_fume[2]) <= 0.03
            ),
            id="purifier off while the fan runs: 0 A and 4x the fume",
        ),
    ],
)
def test_fume_effects(effect: Effect, check: object) -> None:
    end = np.full(DEVICES, at("12:00"), dtype=np.int64)
    base = sampler("restaurant").fume(np.arange(DEVICES), end, 60)
    changed = sampler("restaurant", (effect,)).fume(np.arange(DEVICES), end, 60)
    assert callable(check) and check(base, changed)
    assert np.array_equal(np.delete(changed.oil_fume, 2), np.delete(base.oil_fume, 2))
