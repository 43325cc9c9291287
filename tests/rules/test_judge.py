"""The rules at their boundaries: each row a stream of readings and the events it must give."""

from __future__ import annotations

from datetime import datetime

import pytest

from linli.rules.events import Event, RuleId
from linli.rules.judge import (
    SensorState,
    judge_reading,
    judge_silence,
    judge_status,
    new_series,
)
from linli.rules.limits import FumeStandard
from linli.rules.localtime import Calendar, Window
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Merchant, Site, SiteKind, Zone
from tests.rules.conftest import SHANGHAI, local_ms, noise_at

HOME = Site("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1")
REST = Site(
    "rest-1", "面馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=Merchant("周"), cooking_heads=2
)
POLICY = RulePolicy()
MIN = 60_000


def run(readings: list[Reading], policy: RulePolicy = POLICY, site: Site = HOME) -> list[Event]:
    """Judge the readings in order, each as it arrives (now = its ts)."""
    state = SensorState(readings[0].sensor)
    series = new_series(policy, readings[0].kind)
    events: list[Event] = []
    for r in readings:
        state, found = judge_reading(policy, site, state, series, r, r.ts_ms)
        events += found
    return events


def signals(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.signal.value, e.rule.value) for e in events]


def minutes(
    start: str, n: int, laeq: float, *, stuck: bool = False, **metrics: float
) -> list[Reading]:
    """n one-minute noise readings ending at start, start+1 min, …; L90 wanders unless stuck."""
    t0 = local_ms(start)
    wander = (lambda i: {}) if stuck else (lambda i: {"l90": 30 + i % 7 * 0.1})
    return [
        Reading(
            "n-01", SensorKind.NOISE, t0 + i * MIN, i, 60, {"laeq": laeq, **metrics, **wander(i)}
        )
        for i in range(n)
    ]


NOISE = [
    pytest.param(
        minutes("22:10", 10, 50.0), [], id="noise_leq: night, exactly 50.0 for 10 min → lawful"
    ),
    pytest.param(
        minutes("22:10", 10, 50.1),
        [("breach", "noise_leq")],
        id="noise_leq: night, 50.1 for 10 min → breach",
    ),
    pytest.param(
        minutes("22:10", 7, 50.1), [], id="noise_leq: 7 of 10 min covered (< 75 %) → not judged"
    ),
    pytest.param(minutes("14:00", 10, 60.0), [], id="noise_leq: day, exactly 60.0 → lawful"),
    pytest.param(
        minutes("14:00", 10, 60.1), [("breach", "noise_leq")], id="noise_leq: day, 60.1 → breach"
    ),
    pytest.param(minutes("21:50", 10, 55.0), [], id="noise_leq: 55 until 21:59 → day, lawful"),
    pytest.param(
        minutes("21:51", 20, 55.0),
        [("breach", "noise_leq")],
        id="noise_leq: 55 from 22:00 on → night breach, day minutes not mixed in",
    ),
    pytest.param(
        minutes("22:10", 11, 50.1) + minutes("22:21", 1, 47.0),
        [("breach", "noise_leq")],
        id="noise_leq: one minute at 47 → LAeq 49.9, above 50 − 2 → still on (hysteresis)",
    ),
    pytest.param(
        minutes("22:10", 10, 50.1) + minutes("22:20", 10, 47.0),
        [("breach", "noise_leq")],
        id="noise_leq: below limit − 2 for less than a window → not ended yet",
    ),
    pytest.param(
        minutes("22:10", 10, 50.1) + minutes("22:20", 20, 47.0),
        [("breach", "noise_leq"), ("clear", "noise_leq")],
        id="noise_leq: below limit − 2 for a whole window → cleared",
    ),
    pytest.param(
        minutes("02:00", 10, 65.0, lamin=65.0, lamax=65.0, stuck=True),
        [("fault", "device_stuck")],
        id="device_stuck: 65 dB at night with LAmin = LAmax → device case, no noise case",
    ),
    pytest.param(
        minutes("02:00", 12, 65.0, stuck=True),
        [("fault", "device_stuck")],
        id="device_stuck: 12 identical readings at night → device case, no noise case",
    ),
    pytest.param(
        minutes("02:00", 3, 22.0),
        [("fault", "device_implausible")],
        id="device_implausible: LAeq 22 → device case",
    ),
    pytest.param(
        minutes("02:00", 1, 22.0) + minutes("02:01", 1, 40.0),
        [("fault", "device_implausible"), ("recover", "device_implausible")],
        id="device_implausible: a plausible reading → recovered",
    ),
    pytest.param(
        minutes("23:00", 1, 45.0, lamax=65.0),
        [],
        id="noise_night_max: LAmax 65.0 = 50 + 15 → lawful",
    ),
    pytest.param(
        minutes("23:00", 2, 45.0, lamax=65.1),
        [("breach", "noise_night_max")],
        id="noise_night_max: LAmax 65.1 at night twice in a row → one episode, one breach",
    ),
    pytest.param(
        minutes("23:00", 1, 45.0, lamax=65.1) + minutes("23:01", 10, 45.0, lamax=50.0),
        [("breach", "noise_night_max"), ("clear", "noise_night_max")],
        id="noise_night_max: no peak for the 10-min window → the episode cleared",
    ),
]


@pytest.mark.parametrize(("readings", "expected"), NOISE)
def test_noise_rules(readings, expected):
    assert signals(run(readings)) == expected


def _period(stamp: str, period_s: int, night: bool) -> object:
    """A row of PERIODS: a reading of `period_s` stamped `stamp` (HH:MM[:SS]) is day or night."""
    hh, mm, *ss = stamp.split(":")
    ts = local_ms(f"{hh}:{mm}") + int(ss[0] if ss else 0) * 1000
    start = ts - period_s * 1000
    fmt = "%H:%M:%S" if period_s < 60 else "%H:%M"
    measured = "–".join(
        datetime.fromtimestamp(t / 1000, SHANGHAI).strftime(fmt) for t in (start, ts)
    )
    side = "night" if night else "day"
    return pytest.param(
        ts, period_s, night, id=f"{period_s}-s reading stamped {stamp} measured {measured}: {side}"
    )


# A reading measured [ts − period_s, ts); its period's midpoint decides day or night
# (rules/localtime.py), for both noise rules alike.
PERIODS = [
    _period("21:59:00", 1, False),
    _period("21:59:00", 60, False),
    _period("21:59:00", 600, False),
    _period("22:00:00", 1, False),
    _period("22:00:00", 60, False),
    _period("22:00:00", 600, False),
    _period("22:00:01", 1, True),
    _period("22:01:00", 60, True),
    _period("22:04:00", 600, False),  # midpoint 21:59
    _period("22:05:00", 600, True),  # split in half: the later side
    _period("06:00:00", 1, True),
    _period("06:00:00", 60, True),
    _period("06:00:00", 600, True),
    _period("06:00:01", 1, False),
    _period("06:01:00", 60, False),
    _period("06:05:00", 600, False),
]


@pytest.mark.parametrize(("ts", "period_s", "night"), PERIODS)
def test_noise_leq_judges_a_reading_by_the_period_it_measured(ts, period_s, night):
    """LAeq 55 over a window of one reading: over the night's 50, under the day's 60."""
    policy = RulePolicy(leq_window_s=period_s)
    events = run([noise_at(ts, 55.0, period_s=period_s)], policy)
    assert signals(events) == ([("breach", "noise_leq")] if night else [])
    if night:
        b = events[0].breach
        assert b is not None and b.limit is not None
        assert (b.start_ms, b.end_ms, b.limit.value) == (ts - period_s * 1000, ts, 50.0)


@pytest.mark.parametrize(("ts", "period_s", "night"), PERIODS)
def test_noise_night_max_judges_a_reading_by_the_period_it_measured(ts, period_s, night):
    """LAmax 80 over the night's 50 + 15: a breach only at night."""
    events = run([noise_at(ts, 45.0, period_s=period_s, lamax=80.0)])
    assert signals(events) == ([("breach", "noise_night_max")] if night else [])


def test_noise_leq_window_holds_only_the_readings_measured_in_its_period():
    """The 60-s reading stamped 22:00 measured 21:59–22:00 (day): not in the night's window."""
    events = run(minutes("21:51", 20, 55.0))
    assert signals(events) == [("breach", "noise_leq")]
    b = events[0].breach
    assert b is not None
    # 8 night readings (75 % of 10 min), 22:01 to 22:08, measured from 22:00 on
    assert (b.start_ms, b.end_ms, b.measured) == (local_ms("22:00"), local_ms("22:08"), 55.0)


def test_breach_carries_its_evidence():
    events = run(minutes("22:10", 10, 50.1))
    b = events[0].breach
    assert b is not None and b.limit is not None
    assert (b.rule, b.site, b.sensor, b.measured, b.unit) == (
        RuleId.NOISE_LEQ,
        "hj-b1",
        "n-01",
        50.1,
        "dB(A)",
    )
    # 75 % of the window covered (HJ 906 valid rate) after 8 readings: 22:09–22:17
    assert (b.start_ms, b.end_ms) == (local_ms("22:09"), local_ms("22:17"))
    assert b.limit.clause_zh == "GB 3096-2008 表1 2类 夜间 50 dB(A)"
    assert b.late is False


def test_sustain_delays_the_breach():
    policy = RulePolicy(leq_sustain_s=120)
    events = run(minutes("22:10", 13, 50.1), policy)
    assert signals(events) == [("breach", "noise_leq")]
    assert events[0].ts_ms == local_ms("22:19")  # judged and over from 22:17, sustained 2 min


def test_late_data_is_judged_by_its_own_time_and_marked_late():
    readings = minutes("22:10", 10, 50.1)
    state = SensorState("n-01")
    series = new_series(POLICY, SensorKind.NOISE)
    events: list[Event] = []
    a_day_later = readings[-1].ts_ms + 24 * 3600 * 1000
    for r in readings:
        state, found = judge_reading(POLICY, HOME, state, series, r, a_day_later)
        events += found
    assert signals(events) == [("breach", "noise_leq")]
    assert events[0].breach is not None and events[0].breach.late is True


def fume_minutes(start: str, n: int, oil: float, **metrics: object) -> list[Reading]:
    t0 = local_ms(start)
    return [
        Reading(
            "f-01",
            SensorKind.FUME,
            t0 + i * MIN,
            i,
            60,
            {"oil_fume": oil, "nmhc": 1 + i % 7 * 0.01, **metrics},  # type: ignore[dict-item]
        )
        for i in range(n)
    ]


FUME = [
    pytest.param(
        fume_minutes("12:00", 10, 2.0, fan_on=True),
        POLICY,
        [],
        id="fume_conc: exactly 2.0 mg/m³ → lawful",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 2.01, fan_on=True),
        POLICY,
        [("breach", "fume_conc")],
        id="fume_conc: 2.01 mg/m³ for 10 min → breach",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 3.0, fan_on=False),
        POLICY,
        [],
        id="fume_conc: fan off → not judged",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 1.2, fan_on=True),
        RulePolicy(fume_standard=FumeStandard.DB11_1488),
        [("breach", "fume_conc")],
        id="fume_conc: 1.2 under the local 1.0 option → breach",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 0.5, fan_on=True, pm=5.5),
        RulePolicy(fume_standard=FumeStandard.DB11_1488),
        [("breach", "fume_conc")],
        id="fume_conc: particulate 5.5 over the local 5.0 → breach",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 0.3, fan_on=True, purifier_on=False),
        POLICY,
        [("breach", "purifier_off")],
        id="purifier_off: fan on, purifier off for 10 min → breach",
    ),
    pytest.param(
        fume_minutes("12:00", 9, 0.3, fan_on=True, purifier_on=False),
        POLICY,
        [],
        id="purifier_off: 9 min → not yet",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 0.3, fan_on=True, purifier_on=True, purifier_current=0.4),
        POLICY,
        [("breach", "purifier_off")],
        id="purifier_off: state on but current 0.4 A < 0.5 → off",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 0.3, fan_on=False, purifier_on=False),
        POLICY,
        [],
        id="purifier_off: fan off too → lawful",
    ),
    pytest.param(
        fume_minutes("03:00", 10, 0.3, fan_on=True, purifier_on=False),
        RulePolicy(calendar=Calendar(business_hours=(Window(600, 840), Window(1020, 1320)))),
        [],
        id="purifier_off: outside business hours → not judged",
    ),
    pytest.param(
        fume_minutes("12:00", 10, 0.3, fan_on=True, purifier_on=False),
        RulePolicy(calendar=Calendar(business_hours=(Window(600, 840), Window(1020, 1320)))),
        [("breach", "purifier_off")],
        id="purifier_off: inside the lunch window → breach",
    ),
]


@pytest.mark.parametrize(("readings", "policy", "expected"), FUME)
def test_fume_rules(readings, policy, expected):
    assert signals(run(readings, policy, REST)) == expected


def test_fume_breach_names_metric_and_limit():
    events = run(fume_minutes("12:00", 10, 2.5, fan_on=True), POLICY, REST)
    b = events[0].breach
    assert b is not None and b.limit is not None
    assert (b.measured, b.limit.value, b.limit.metric) == (2.5, 2.0, "oil_fume")


@pytest.mark.parametrize(
    ("silent_min", "will", "expected"),
    [
        pytest.param(5, False, [], id="device_offline: 5 periods silent → still online"),
        pytest.param(
            5.01,
            False,
            [("fault", "device_offline")],
            id="device_offline: just over 5 periods → offline",
        ),
        pytest.param(
            0, True, [("fault", "device_offline")], id="device_offline: last will → offline at once"
        ),
    ],
)
def test_offline(silent_min, will, expected):
    state = SensorState("n-01", last_seen_ms=0, period_s=60)
    state, events = judge_silence(POLICY, HOME, state, int(silent_min * MIN), will=will)
    assert signals(events) == expected


def test_offline_recovers_with_a_reading():
    state = SensorState("n-01", last_seen_ms=0, period_s=60)
    state, _ = judge_silence(POLICY, HOME, state, 10 * MIN)
    series = new_series(POLICY, SensorKind.NOISE)
    reading = noise_at(local_ms("14:00"), 50.0)
    state2, events = judge_reading(POLICY, HOME, state, series, reading, 11 * MIN)
    assert signals(events) == [("recover", "device_offline")]
    assert state2.faults == frozenset()
    _, again = judge_silence(POLICY, HOME, state, 20 * MIN)
    assert again == []  # already offline: no second device case


def test_a_last_will_older_than_the_newest_reading_changes_nothing():
    # read back from the spool at start, after the sensor had spoken again
    series = new_series(POLICY, SensorKind.NOISE)
    state, _ = judge_reading(
        POLICY, HOME, SensorState("n-01"), series, noise_at(10 * MIN, 50.0), 10 * MIN
    )
    old, events = judge_status(POLICY, HOME, state, DeviceStatus("n-01", 9 * MIN, False), 11 * MIN)
    assert (old, events) == (state, [])
    _, events = judge_status(POLICY, HOME, state, DeviceStatus("n-01", 10 * MIN, False), 11 * MIN)
    assert signals(events) == [("fault", "device_offline")]
