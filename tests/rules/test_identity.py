"""A reading's identity (sensor, ts): fresh, duplicate, conflict, or checked in InfluxDB."""

from __future__ import annotations

import pytest

from linli.rules.identity import Identity, RecentReadings, conflict, judge
from linli.rules.reading import Reading, SensorKind
from linli.rules.rejection import ReasonCode

F, D, C, K = Identity.FRESH, Identity.DUPLICATE, Identity.CONFLICT, Identity.CHECK


def _r(ts: int, seq: int = 1, laeq: float = 50.0, sensor: str = "n-01", period_s: int = 60):
    return Reading(sensor, SensorKind.NOISE, ts, seq, period_s, {"laeq": laeq})


@pytest.mark.parametrize(
    ("stored", "reading", "verdict"),
    [
        pytest.param(None, _r(10), F, id="nothing stored → fresh"),
        pytest.param((1, 60, {"laeq": 50.0}), _r(10), D, id="same seq, period, values → duplicate"),
        pytest.param((1, 60, {"laeq": 50}), _r(10), D, id="50 stored as 50.0 is the same value"),
        pytest.param((1, 60, {"laeq": 50.0}), _r(10, laeq=95.0), C, id="other value → conflict"),
        pytest.param((1, 60, {"laeq": 50.0}), _r(10, seq=7), C, id="other seq → conflict"),
        pytest.param((1, 60, {"laeq": 50.0}), _r(10, period_s=30), C, id="other period → conflict"),
        pytest.param(
            (1, 60, {"laeq": 50.0, "lamax": 70.0}), _r(10), C, id="a metric less → conflict"
        ),
    ],
)
def test_judge(stored, reading, verdict):
    assert judge(stored, reading) is verdict


# Each row: what InfluxDB holds at start (newest ts per sensor), then readings in arrival
# order and what each is; a memory of 2 to 3 readings per sensor (4 forget the 2 oldest).
ROWS = [
    pytest.param({}, [_r(10), _r(20), _r(30)], [F, F, F], id="rising ts → fresh"),
    pytest.param({}, [_r(10), _r(10)], [F, D], id="the same reading again right away → duplicate"),
    pytest.param(
        {},
        [_r(10, laeq=50), _r(10, laeq=95), _r(10, seq=7, laeq=120)],
        [F, C, C],
        id="the issue's three: 50, then 95 and seq 7 at the same ts → conflicts",
    ),
    pytest.param(
        {},
        [_r(10), _r(20), _r(30), _r(40), _r(10)],
        [F, F, F, F, K],
        id="a ts forgotten (older than the memory) → check in InfluxDB",
    ),
    pytest.param(
        {},
        [_r(10), _r(30), _r(20)],
        [F, F, F],
        id="a ts between two sent, never sent itself → fresh",
    ),
    pytest.param(
        {},
        [_r(10), _r(20), _r(30), _r(40), _r(50), _r(15), _r(25)],
        [F, F, F, F, F, K, F],
        id="below the newest forgotten ts (20) → check; above it, never sent → fresh",
    ),
    pytest.param(
        {"n-01": 100},
        [_r(90), _r(100), _r(110)],
        [K, K, F],
        id="after a restart: at or below the newest stored → check, above → fresh",
    ),
    pytest.param(
        {"n-01": 100},
        [_r(110), _r(90, sensor="n-02")],
        [F, F],
        id="another sensor's newest stored is not this one's",
    ),
    pytest.param(
        {"n-01": 100},
        [_r(90), _r(90)],
        [K, K],
        id="a check is not remembered: the same ts again is checked again",
    ),
]


@pytest.mark.parametrize(("newest", "readings", "verdicts"), ROWS)
def test_recent_readings(newest, readings, verdicts):
    recent = RecentReadings(keep=2)
    recent.seed(newest)
    assert [recent.judge(r) for r in readings] == verdicts


def test_blind_until_seeded_then_what_was_sent_counts():
    recent = RecentReadings(keep=3)
    # InfluxDB did not answer at start: nothing can be decided in memory
    assert [recent.judge(_r(ts)) for ts in (10, 30, 20)] == [K, K, K]
    recent.seed({"n-01": 25})
    # at or below what was sent (30) → check; above → fresh
    assert [recent.judge(_r(ts)) for ts in (30, 28, 40, 40)] == [K, K, F, D]


def test_a_conflict_says_what_differs():
    rejection = conflict(
        _r(1_764_209_700_000, seq=7, laeq=120.0), (1, 60, {"laeq": 50.0}), "t", b"{}", 5, 2
    )
    assert rejection.reason is ReasonCode.CONFLICT
    assert (rejection.sensor, rejection.index, rejection.received_ms) == ("n-01", 2, 5)
    assert rejection.detail == (
        "batch[2]: sensor 'n-01': a reading for ts 2025-11-27T02:15:00.000+00:00 is already "
        "stored; this one differs (seq 1 → 7, laeq 50.0 → 120.0) and was not written over it"
    )


# An owned sensor (CONTRACT §12): its newest stored readings loaded, then each reading.
OWNED = [
    pytest.param([], True, [_r(10), _r(5)], [F, F], id="nothing stored → every ts fresh"),
    pytest.param(
        [(10, (1, 60, {"laeq": 50.0})), (20, (2, 60, {"laeq": 50.0}))],
        False,
        [_r(20, seq=2), _r(20, seq=9), _r(15), _r(5), _r(30)],
        [D, C, F, K, F],
        id="newest loaded: redelivery duplicate, resend conflict, between fresh, older check",
    ),
    pytest.param(
        [(10, (1, 60, {"laeq": 50.0}))],
        True,
        [_r(5)],
        [F],
        id="all stored known → an older ts never stored is fresh",
    ),
]


@pytest.mark.parametrize(("stored", "complete", "readings", "verdicts"), OWNED)
def test_an_owned_sensor_is_decided_in_memory(stored, complete, readings, verdicts):
    memory = RecentReadings(keep=2)
    memory.own("n-01", stored, complete)
    assert [memory.judge(r) for r in readings] == verdicts


def test_a_sensor_given_up_is_blind_again_and_what_was_sent_blind_stays_checked():
    memory = RecentReadings(keep=2)
    assert memory.judge(_r(40)) is K  # not owned (never seeded): checked
    memory.own("n-01", [(10, (1, 60, {"laeq": 50.0}))], complete=True)
    assert [memory.judge(_r(40)), memory.judge(_r(50))] == [K, F]  # 40 was sent to check
    memory.disown("n-01")
    assert memory.judge(_r(60)) is K
