"""Judging a sensor's readings in runs gives exactly what judging them one by one gives.

The engine hands the judge all of a sensor's readings of a round at once; the breach
rules then judge the trusted ones between two device changes as one run. These streams
mix what changes a run: day turning to night, levels over and under the limits, stuck
and implausible readings, late and redelivered ones, the fan and the purifier; and 1-s
readings beside a KTV, whose episodes are joined across short gaps and grow (EXTEND).
"""

from __future__ import annotations

import random

import pytest

from linli.rules.events import Event
from linli.rules.judge import SensorState, judge_reading, judge_readings, new_series
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from tests.rules.conftest import local_ms
from tests.rules.test_judge import HOME, REST

MIN = 60_000
POLICY = RulePolicy(leq_sustain_s=120, purifier_off_s=180)


def noise_stream(rng: random.Random) -> list[Reading]:
    """Four hours across 22:00 at one reading a minute, with faults, late and again."""
    out: list[Reading] = []
    level = 50.0
    for i in range(240):
        level = min(75.0, max(35.0, level + rng.uniform(-3, 3)))
        metrics = {"laeq": round(level, 1), "lamax": round(level + rng.uniform(5, 25), 1)}
        if rng.random() < 0.03:
            metrics["laeq"] = 21.0  # implausibly quiet
        out.append(Reading("n-01", SensorKind.NOISE, local_ms("20:00") + i * MIN, i, 60, metrics))
        if rng.random() < 0.02:  # stuck: the same reading five times over
            out += [out[-1]._replace(ts_ms=out[-1].ts_ms + k, seq=i) for k in range(1, 5)]
        if rng.random() < 0.05 and len(out) > 10:  # late: a reading some minutes back
            back = out[-rng.randint(2, 10)]
            out.append(back._replace(ts_ms=back.ts_ms - 30_000, seq=10_000 + i))
        if rng.random() < 0.05:  # redelivered
            out.append(out[rng.randrange(len(out))])
    return out


def ktv_stream(rng: random.Random) -> list[Reading]:
    """90 min of 1-s readings across 22:00 beside a KTV: loud and quiet spells of random
    length (episodes joined across short gaps, ended by long ones), some seconds missing."""
    out: list[Reading] = []
    t = local_ms("21:45")
    seq = 0
    while t < local_ms("23:15"):
        loud = rng.random() < 0.5
        for _ in range(rng.choice([30, 120, 400, 900])):
            t += 1000
            seq += 1
            if rng.random() < 0.02:
                continue  # not received
            laeq = rng.uniform(55, 68) if loud else rng.uniform(38, 47)
            lamax = laeq + (rng.uniform(5, 20) if loud else rng.uniform(3, 12))
            metrics = {"laeq": round(laeq, 1), "lamax": round(lamax, 1)}
            out.append(Reading("n-01", SensorKind.NOISE, t, seq, 1, metrics))
    return out


def fume_stream(rng: random.Random) -> list[Reading]:
    """Three hours around lunch: the fan on and off, the purifier too, oil fume up and down."""
    out: list[Reading] = []
    for i in range(180):
        fan = rng.random() < 0.8
        metrics: dict[str, float | bool] = {
            "oil_fume": round(rng.uniform(0.5, 3.5), 2),
            "fan_on": fan,
            "purifier_on": rng.random() < 0.7,
        }
        if rng.random() < 0.3:
            metrics["pm"] = round(rng.uniform(1, 8), 2)
        out.append(Reading("f-01", SensorKind.FUME, local_ms("10:30") + i * MIN, i, 60, metrics))
        if rng.random() < 0.05:
            out.append(out[rng.randrange(len(out))])
    return out


def judged_one_by_one(stream, site, now_ms) -> tuple[SensorState, list[Event], list[Reading]]:
    state, series = SensorState(stream[0].sensor), new_series(POLICY, stream[0].kind)
    events: list[Event] = []
    for r in stream:
        state, found = judge_reading(POLICY, site, state, series, r, now_ms)
        events += found
    return state, events, series.held()


def judged_in_runs(stream, site, now_ms, rng) -> tuple[SensorState, list[Event], list[Reading]]:
    state, series = SensorState(stream[0].sensor), new_series(POLICY, stream[0].kind)
    events: list[Event] = []
    i = 0
    while i < len(stream):
        n = rng.choice([1, 2, 5, 20, 100])
        state, found = judge_readings(POLICY, site, state, series, stream[i : i + n], now_ms)
        events += found
        i += n
    return state, events, series.held()


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    ("make", "site"),
    [(noise_stream, HOME), (ktv_stream, HOME), (fume_stream, REST)],
    ids=["noise", "1-s KTV", "fume"],
)
def test_runs_judge_as_one_by_one(make, site, seed):
    rng = random.Random(seed)
    stream = make(rng)
    now_ms = max(r.ts_ms for r in stream) + MIN
    expected = judged_one_by_one(stream, site, now_ms)
    assert judged_in_runs(stream, site, now_ms, rng) == expected


def test_the_streams_exercise_every_signal():
    """The streams above are worth comparing: episodes begun, extended and ended, faults
    and recoveries."""
    seen = set()
    for seed in range(12):
        for make, site in ((noise_stream, HOME), (ktv_stream, HOME), (fume_stream, REST)):
            stream = make(random.Random(seed))
            _, events, _ = judged_one_by_one(stream, site, max(r.ts_ms for r in stream))
            seen |= {(e.signal.value, e.rule.value) for e in events}
    assert seen >= {
        ("breach", "noise_leq"),
        ("extend", "noise_leq"),
        ("clear", "noise_leq"),
        ("breach", "noise_night_max"),
        ("extend", "noise_night_max"),
        ("clear", "noise_night_max"),
        ("fault", "device_stuck"),
        ("recover", "device_stuck"),
        ("fault", "device_implausible"),
        ("breach", "fume_conc"),
        ("extend", "fume_conc"),
        ("clear", "fume_conc"),
        ("breach", "purifier_off"),
        ("extend", "purifier_off"),
        ("clear", "purifier_off"),
    }
