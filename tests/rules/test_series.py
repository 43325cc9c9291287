"""The rules' window of readings: running sums agree with summing the window afresh."""

from __future__ import annotations

import math
import random

import pytest

from linli.rules.energy import leq
from linli.rules.reading import Reading, SensorKind
from linli.rules.series import FAN_T, E, Series, T, fume_column

S = 1000


def noise(ts_s: int, laeq: float, period_s: int = 1, seq: int = 0) -> Reading:
    return Reading("n", SensorKind.NOISE, ts_s * S, seq, period_s, {"laeq": laeq})


def window_leq(series: Series, after_s: int, until_s: int) -> float:
    i, j = series.span(after_s * S, until_s * S)
    return 10 * math.log10(series.total(E, i, j) / series.total(T, i, j))


def test_a_window_is_the_readings_after_its_start_up_to_its_end():
    series = Series(SensorKind.NOISE, 3600 * S, [noise(t, 50.0) for t in range(1, 11)])
    i, j = series.span(3 * S, 7 * S)
    assert [r.ts_ms // S for r in series.readings[i:j]] == [4, 5, 6, 7]
    assert series.total(T, i, j) == 4.0


def test_energetic_mean_matches_the_hand_value():
    # 60 dB and 80 dB for equal times: 10·log10((10^6 + 10^8) / 2) = 77.03 dB
    series = Series(SensorKind.NOISE, 3600 * S, [noise(1, 60.0), noise(2, 80.0)])
    assert window_leq(series, 0, 2) == pytest.approx(77.03, abs=0.005)


@pytest.mark.parametrize("seed", range(5))
def test_running_sums_match_summing_afresh_through_late_inserts_stuck_runs_and_drops(seed):
    rng = random.Random(seed)
    keep_s = 120
    series = Series(SensorKind.NOISE, keep_s * S)
    held: dict[int, Reading] = {}
    horizon = 0  # the series keeps what is within `keep` of the newest it was given
    for t in range(1, 2000):
        ts = t if rng.random() > 0.05 else max(1, t - rng.randint(1, 60))  # some late
        r = noise(ts, rng.uniform(30, 110), seq=t)
        series.add(r)
        series.trim()
        held[ts] = r
        horizon = max(horizon, max(held, default=0) - keep_s)
        for x in [x for x in held if x <= horizon]:
            del held[x]
        if rng.random() < 0.01:  # a stuck run taken out
            gone = [x for x in held if x > t - 5]
            series.discard(x * S for x in gone)
            for x in gone:
                del held[x]
        assert [r.ts_ms // S for r in series.held()] == sorted(held)
        if t % 97 == 0:
            end = max(held)
            inside = [held[x] for x in sorted(held) if end - 60 < x <= end]
            assert window_leq(series, end - 60, end) == pytest.approx(leq(inside), abs=0.005)


def test_fume_means_count_only_readings_with_the_fan_running_and_the_metric():
    def fume(ts_s: int, oil: float, fan: bool, pm: float | None = None) -> Reading:
        metrics: dict[str, float | bool] = {"oil_fume": oil, "fan_on": fan}
        if pm is not None:
            metrics["pm"] = pm
        return Reading("f", SensorKind.FUME, ts_s * S, ts_s, 60, metrics)

    series = Series(
        SensorKind.FUME,
        3600 * S,
        [fume(60, 2.0, True, pm=4.0), fume(120, 9.0, False, pm=9.0), fume(180, 3.0, True)],
    )
    i, j = series.span(0, 180 * S)
    oil, pm = fume_column("oil_fume"), fume_column("pm")
    assert series.total(FAN_T, i, j) == 120.0  # two minutes with the fan on
    assert series.total(oil, i, j) / series.total(oil + 1, i, j) == 2.5
    assert series.total(pm, i, j) / series.total(pm + 1, i, j) == 4.0  # one reading has pm


def test_the_same_time_again_replaces_and_a_redelivery_is_recognised():
    series = Series(SensorKind.NOISE, 3600 * S, [noise(1, 50.0, seq=1), noise(2, 50.0, seq=2)])
    series.add(noise(1, 70.0, seq=1))
    assert [r.metrics["laeq"] for r in series.held()] == [70.0, 50.0]
    assert series.has(noise(2, 50.0, seq=2)) and not series.has(noise(2, 50.0, seq=9))
