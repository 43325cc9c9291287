"""An occurrence is an episode: readings over the limit one after the other are one breach.

Each row a stream of one-minute readings and every event it gives, with the window and
worst value it carries: BREACH when an episode begins, EXTEND at most once per rule
window while it grows, CLEAR with its final extent once a window passed without it.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from linli.rules.events import Event, RuleId
from linli.rules.judge import SensorState, judge_readings, new_series
from linli.rules.reading import Reading, SensorKind
from tests.rules.conftest import SHANGHAI, local_ms
from tests.rules.test_judge import HOME, POLICY, REST, fume_minutes, minutes, run

SEC = 1000


def hms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, SHANGHAI).strftime("%H:%M:%S")


def told(events: list[Event], rule: RuleId) -> list[tuple[str, str, str, str, float]]:
    """(signal, when, window start, window end, measured) of one rule's events."""
    out = []
    for e in events:
        if e.rule is rule:
            assert e.breach is not None
            b = e.breach
            out.append((e.signal.value, hms(e.ts_ms), hms(b.start_ms), hms(b.end_ms), b.measured))
    return out


def peaks(start: str, n: int, lamax: float) -> list[Reading]:
    """n one-minute readings at night, quiet by LAeq, with this LAmax."""
    return minutes(start, n, 45.0, lamax=lamax)


NIGHT_MAX = [
    pytest.param(
        peaks("23:00", 5, 70.0)
        + peaks("23:05", 9, 50.0)
        + peaks("23:14", 2, 80.0)
        + peaks("23:16", 15, 50.0),
        [
            ("breach", "23:00:00", "22:59:00", "23:00:00", 70.0),
            ("extend", "23:14:00", "22:59:00", "23:14:00", 80.0),
            ("clear", "23:25:00", "22:59:00", "23:15:00", 80.0),
        ],
        id="noise_night_max: over again after 9 quiet min (< the 10-min window) → one episode, "
        "worst 80, told once more 14 min on, ended 10 min after its last peak",
    ),
    pytest.param(
        peaks("23:00", 5, 70.0)
        + peaks("23:05", 10, 50.0)
        + peaks("23:15", 2, 80.0)
        + peaks("23:17", 15, 50.0),
        [
            ("breach", "23:00:00", "22:59:00", "23:00:00", 70.0),
            ("clear", "23:14:00", "22:59:00", "23:04:00", 70.0),
            ("breach", "23:15:00", "23:14:00", "23:15:00", 80.0),
            ("clear", "23:26:00", "23:14:00", "23:16:00", 80.0),
        ],
        id="noise_night_max: 10 quiet min (the window) → ended; the next peak a new episode",
    ),
    pytest.param(
        peaks("05:55", 6, 70.0) + peaks("06:01", 3, 70.0),
        [
            ("breach", "05:55:00", "05:54:00", "05:55:00", 70.0),
            ("clear", "06:01:00", "05:54:00", "06:00:00", 70.0),
        ],
        id="noise_night_max: night ends (06:01 measured 06:00–06:01) → the episode ends",
    ),
]


@pytest.mark.parametrize(("readings", "expected"), NIGHT_MAX)
def test_night_peaks_are_episodes(readings, expected):
    assert told(run(readings), RuleId.NOISE_NIGHT_MAX) == expected


LEQ = [
    pytest.param(
        minutes("22:10", 10, 55.0)
        + minutes("22:20", 12, 47.0)
        + minutes("22:32", 5, 55.0)
        + minutes("22:37", 25, 47.0),
        [
            ("breach", "22:17:00", "22:09:00", "22:17:00", 55.0),
            ("extend", "22:27:00", "22:09:00", "22:27:00", 55.0),
            ("extend", "22:37:00", "22:09:00", "22:37:00", 55.0),
            ("clear", "22:55:00", "22:09:00", "22:45:00", 55.0),
        ],
        # on until 22:28 (LAeq above 50 − 2), over 50 again at 22:33: 4 min apart
        id="noise_leq: over again within a window of falling below → the same episode, "
        "same start; ended a window after its last minute above limit − 2",
    ),
    pytest.param(
        minutes("22:10", 10, 55.0)
        + minutes("22:20", 20, 47.0)
        + minutes("22:40", 10, 58.0)
        + minutes("22:50", 20, 47.0),
        [
            ("breach", "22:17:00", "22:09:00", "22:17:00", 55.0),
            ("extend", "22:27:00", "22:09:00", "22:27:00", 55.0),
            ("clear", "22:38:00", "22:09:00", "22:28:00", 55.0),
            ("breach", "22:40:00", "22:30:00", "22:40:00", 50.3),
            ("extend", "22:50:00", "22:30:00", "22:50:00", 58.0),
            ("clear", "23:08:00", "22:30:00", "22:58:00", 58.0),
        ],
        id="noise_leq: below limit − 2 for a whole window → ended; the next one a new episode",
    ),
    pytest.param(
        minutes("21:40", 30, 62.0),
        [
            ("breach", "21:47:00", "21:39:00", "21:47:00", 62.0),
            ("extend", "21:57:00", "21:39:00", "21:57:00", 62.0),
            ("clear", "22:01:00", "21:39:00", "22:00:00", 62.0),
            ("breach", "22:08:00", "22:00:00", "22:08:00", 62.0),
        ],
        id="noise_leq: day turns to night → the day episode ends, the night's is a new one "
        "(GB 3096 judges them apart)",
    ),
]


@pytest.mark.parametrize(("readings", "expected"), LEQ)
def test_leq_episodes(readings, expected):
    assert told(run(readings), RuleId.NOISE_LEQ) == expected


FUME = [
    pytest.param(
        fume_minutes("12:00", 12, 3.0, fan_on=True)
        + fume_minutes("12:12", 2, 3.0, fan_on=False)
        + fume_minutes("12:14", 5, 3.5, fan_on=True)
        + fume_minutes("12:19", 12, 3.0, fan_on=False),
        RuleId.FUME_CONC,
        [
            ("breach", "12:07:00", "11:59:00", "12:07:00", 3.0),
            ("extend", "12:17:00", "11:59:00", "12:17:00", 3.25),
            ("clear", "12:28:00", "11:59:00", "12:18:00", 3.31),
        ],
        id="fume_conc: fan off 2 min (< the window) → the same episode; its worst the worst "
        "window mean, (3 × 3.0 + 5 × 3.5) / 8",
    ),
    pytest.param(
        fume_minutes("12:00", 12, 0.3, fan_on=True, purifier_on=False)
        + fume_minutes("12:12", 5, 0.3, fan_on=True, purifier_on=True)
        + fume_minutes("12:17", 3, 0.3, fan_on=True, purifier_on=False)
        + fume_minutes("12:20", 12, 0.3, fan_on=True, purifier_on=True),
        RuleId.PURIFIER_OFF,
        [
            ("breach", "12:09:00", "11:59:00", "12:09:00", 10.0),
            ("extend", "12:19:00", "11:59:00", "12:19:00", 20.0),
            ("clear", "12:29:00", "11:59:00", "12:19:00", 20.0),
        ],
        id="purifier_off: on for 5 min (< 10) → the same episode; its worst is its 20 min",
    ),
]


@pytest.mark.parametrize(("readings", "rule", "expected"), FUME)
def test_fume_episodes(readings, rule, expected):
    assert told(run(readings, POLICY, REST), rule) == expected


def ktv_night() -> list[Reading]:
    """A 1-s sensor beside a loud KTV, 22:30–01:30: LAeq 58 and LAmax 75 (64 and 88 from
    23:00 to 23:10), then 20 quiet minutes."""
    t0 = local_ms("22:30") + SEC  # the first reading measured 22:30:00–22:30:01
    out = []
    for k in range(3 * 3600 + 20 * 60):
        ts = t0 + k * SEC
        if k >= 3 * 3600:
            metrics = {"laeq": 40.0 + k % 7 * 0.1, "lamax": 50.0}
        elif 30 * 60 <= k < 40 * 60:
            metrics = {"laeq": 64.0, "lamax": 88.0 - k % 2}
        else:
            metrics = {"laeq": 58.0, "lamax": 75.0 - k % 3 * 0.1}
        out.append(Reading("n-01", SensorKind.NOISE, ts, k, 1, metrics))
    return out


def test_a_ktv_night_of_1_s_readings_is_one_episode_per_rule():
    """10,800 readings over both noise limits: one BREACH each, an EXTEND every 10 min of
    reading time, one CLEAR with the night's window and worst value."""
    readings = ktv_night()
    series = new_series(POLICY, SensorKind.NOISE)
    state, events = judge_readings(
        POLICY, HOME, SensorState("n-01"), series, readings, readings[-1].ts_ms
    )
    night_max = told(events, RuleId.NOISE_NIGHT_MAX)
    # over from the first reading (22:30:00–22:30:01); the last peak ends at 01:30:00
    assert night_max[0] == ("breach", "22:30:01", "22:30:00", "22:30:01", 75.0)
    assert [e[1] for e in night_max[1:-1]] == [
        hms(local_ms("22:30") + SEC + n * 600 * SEC) for n in range(1, 18)
    ]
    assert {e[0] for e in night_max[1:-1]} == {"extend"}
    assert night_max[-1] == ("clear", "01:40:00", "22:30:00", "01:30:00", 88.0)
    leq = told(events, RuleId.NOISE_LEQ)
    # judged once 75 % of the 10-min window is covered: 450 readings, at 22:37:30
    assert leq[0] == ("breach", "22:37:30", "22:30:00", "22:37:30", 58.0)
    assert [e[1] for e in leq[1:-1]] == [
        hms(local_ms("22:37") + 30 * SEC + n * 600 * SEC) for n in range(1, 19)
    ]
    assert {e[0] for e in leq[1:-1]} == {"extend"}
    # the quiet minutes bring the window below 50 − 2 after 549 s (01:39:09): ended 10
    # min after the last window above it; the worst a whole window at 64
    assert leq[-1] == ("clear", "01:49:08", "22:30:00", "01:39:08", 64.0)
    assert state.rules == {}  # both episodes over: nothing saved
