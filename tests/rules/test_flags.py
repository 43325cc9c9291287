"""HJ 212 data flags (CONTRACT §8): a flagged reading is stored, but is no monitoring data.

No case opens, grows or closes on it; a complaint over it finds no coverage. Each row
beside its control: the same readings without the flag do what a reading does.
"""

from __future__ import annotations

import pytest

from linli.rules.corroboration import Verdict, corroborate
from linli.rules.judge import SensorState, judge_readings, judge_silence, new_series
from linli.rules.reading import Reading, monitoring
from tests.rules.test_corroboration import F_SHOP, HOME, N_HOME, SHOP, fume, noise
from tests.rules.test_judge import HOME as JUDGED_HOME
from tests.rules.test_judge import (
    MIN,
    POLICY,
    REST,
    fume_minutes,
    minutes,
    run,
    signals,
)


def flagged(readings: list[Reading], flag: str = "M") -> list[Reading]:
    return [r._replace(flag=flag) for r in readings]


@pytest.mark.parametrize(
    ("flag", "expected"),
    [(None, True), ("N", True), ("M", False), ("C", False), ("D", False), ("T", False)],
    ids=["no flag → monitoring", "N → monitoring", "M", "C", "D", "T"],
)
def test_only_n_is_monitoring_data(flag, expected):
    assert monitoring(minutes("12:00", 1, 50.0)[0]._replace(flag=flag)) is expected


HOUR_OF_FUME = fume_minutes("12:00", 60, 3.0, fan_on=True)  # 1.5× the 2.0 mg/m³ limit


@pytest.mark.parametrize(
    ("readings", "opened"),
    [
        pytest.param(HOUR_OF_FUME, True, id="control: valid data → a case opens"),
        pytest.param(flagged(HOUR_OF_FUME), False, id="maintenance (M) hour over the limit → none"),
        pytest.param(flagged(HOUR_OF_FUME, "C"), False, id="calibration (C) hour → none"),
        pytest.param(flagged(HOUR_OF_FUME, "N"), True, id="flag N → judged as valid data"),
    ],
)
def test_a_flagged_hour_over_the_limit_opens_no_case(readings, opened):
    found = signals(run(readings, POLICY, REST))
    if opened:
        assert found[0] == ("breach", "fume_conc") and len(found) > 1  # and it grows
    else:
        assert found == []


LOUD = minutes("22:10", 10, 58.0)  # a night breach of the 50 dB(A) limit
LOUDER = minutes("22:20", 10, 66.0)
QUIET = minutes("22:20", 30, 40.0)


@pytest.mark.parametrize(
    ("readings", "expected"),
    [
        pytest.param(
            LOUD + LOUDER,
            [("breach", "noise_leq"), ("extend", "noise_leq")],
            id="control: louder valid data → the episode grows",
        ),
        pytest.param(
            LOUD + flagged(LOUDER), [("breach", "noise_leq")], id="louder flagged data → no growth"
        ),
        pytest.param(
            LOUD + QUIET,
            [("breach", "noise_leq"), ("extend", "noise_leq"), ("clear", "noise_leq")],
            id="control: quiet valid data → the episode ends",
        ),
        pytest.param(
            LOUD + flagged(QUIET), [("breach", "noise_leq")], id="quiet flagged data → no end"
        ),
    ],
)
def test_flagged_readings_neither_grow_nor_close_an_episode(readings, expected):
    assert signals(run(readings)) == expected


def test_a_flagged_reading_shows_the_sensor_alive_and_nothing_else():
    """Maintenance data is not silence (no offline case) and never enters the rules' memory."""
    readings = flagged(minutes("14:00", 10, 50.0))
    series = new_series(POLICY, readings[0].kind)
    now = readings[-1].ts_ms
    state, events = judge_readings(POLICY, JUDGED_HOME, SensorState("n-01"), series, readings, now)
    assert events == []
    assert (state.last_seen_ms, state.watermark_ms) == (now, readings[-1].ts_ms)
    assert state.recent == () and not series.has(readings[-1])
    _, silent = judge_silence(POLICY, JUDGED_HOME, state, now + 5 * MIN)
    assert silent == []


@pytest.mark.parametrize(
    ("kind", "readings", "sensor", "site", "verdict", "covered"),
    [
        pytest.param(
            N_HOME.kind, noise("23:00", 30, 56.0), N_HOME, HOME, Verdict.CORROBORATED, 1.0,
            id="control: valid noise → corroborated",
        ),
        pytest.param(
            N_HOME.kind, flagged(noise("23:00", 30, 56.0)), N_HOME, HOME, Verdict.DATA_GAP, 0.0,
            id="maintenance noise over the window → data_gap",
        ),
        pytest.param(
            F_SHOP.kind, fume("12:00", 30, 3.0), F_SHOP, SHOP, Verdict.CORROBORATED, 1.0,
            id="control: valid fume → corroborated",
        ),
        pytest.param(
            F_SHOP.kind, flagged(fume("12:00", 30, 3.0), "C"), F_SHOP, SHOP, Verdict.DATA_GAP, 0.0,
            id="calibration fume over the window → data_gap",
        ),
        pytest.param(
            N_HOME.kind, noise("23:00", 15, 56.0) + flagged(noise("23:15", 15, 56.0)), N_HOME,
            HOME, Verdict.DATA_GAP, 0.5, id="half the window flagged (50 % < 75 %) → data_gap",
        ),
    ],
)  # fmt: skip
def test_a_complaint_over_flagged_readings_is_not_covered(
    kind, readings, sensor, site, verdict, covered
):
    start = readings[0].ts_ms - MIN
    c = corroborate(kind, start, start + 30 * MIN, [(sensor, site)], {sensor.id: readings}, POLICY)
    assert (c.verdict, c.coverage) == (verdict, pytest.approx(covered))
