"""Simulated time, the contract's ts window, and when devices' periods end."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pytest

from linli.sim.clock import SimClock, check_start, parse_start
from linli.sim.schedule import Schedule

NOW = 1_795_000_000.0
SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeTime:
    """Wall and monotonic clocks that move only when told."""

    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.mark.parametrize(
    ("start", "speed", "real_s", "expected"),
    [
        pytest.param(NOW, 1, 0, NOW, id="starts at the start"),
        pytest.param(NOW - 3600, 60, 10, NOW - 3000, id="x60: ten real seconds are ten minutes"),
        pytest.param(NOW - 3600, 60, 59, NOW - 60, id="x60 still in the past"),
        pytest.param(NOW - 3600, 60, 61, NOW + 61, id="caught up: clamped to real time"),
        pytest.param(NOW - 3600, 3600, 120, NOW + 120, id="never ahead of real time"),
    ],
)
def test_clock(start: float, speed: float, real_s: float, expected: float) -> None:
    t = FakeTime()
    clock = SimClock(int(start), speed, wall=lambda: t.wall, monotonic=lambda: t.mono)
    clock.begin()
    t.advance(real_s)
    assert clock.now_s() == pytest.approx(expected)


def test_clock_before_begin_stays_at_start() -> None:
    t = FakeTime()
    clock = SimClock(int(NOW - 60), 10, wall=lambda: t.wall, monotonic=lambda: t.mono)
    t.advance(5)
    assert clock.now_s() == NOW - 60


@pytest.mark.parametrize(
    ("start", "speed", "target", "delay"),
    [
        pytest.param(NOW - 600, 60, NOW - 540, 1.0, id="x60: a simulated minute is a real second"),
        pytest.param(NOW - 600, 60, NOW - 660, 0.0, id="already passed"),
        pytest.param(NOW - 10, 60, NOW + 5, 5.0, id="ahead of real time: wait for real time"),
    ],
)
def test_real_delay(start: float, speed: float, target: float, delay: float) -> None:
    t = FakeTime()
    clock = SimClock(int(start), speed, wall=lambda: t.wall, monotonic=lambda: t.mono)
    clock.begin()
    assert clock.real_delay_s(target) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("start", "message"),
    [
        pytest.param(NOW - 7 * 86_400, "more than 7 days ago", id="a week ago is too old"),
        pytest.param(NOW + 60, "in the future", id="the future"),
    ],
)
def test_check_start_refuses(start: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_start(start, NOW)


@pytest.mark.parametrize("start", [NOW, NOW - 6 * 86_400, NOW - 3600])
def test_check_start_accepts(start: float) -> None:
    check_start(start, NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("now", int(NOW), id="now"),
        pytest.param("-6h", int(NOW) - 21_600, id="six hours ago"),
        pytest.param("now-90m", int(NOW) - 5_400, id="now minus"),
        pytest.param("3h ago", int(NOW) - 10_800, id="ago"),
        pytest.param("2026-11-27T12:00+08:00", 1_795_752_000, id="with an offset"),
        pytest.param("2026-11-27T12:00", 1_795_752_000, id="local time of the community"),
        pytest.param("2026-11-27T04:00Z", 1_795_752_000, id="UTC"),
    ],
)
def test_parse_start(text: str, expected: int) -> None:
    assert parse_start(text, SHANGHAI, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-6 hours", "2026-13-01"])
def test_parse_start_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="start"):
        parse_start(text, SHANGHAI, NOW)


def test_schedule_due_by_period_and_phase() -> None:
    schedule = Schedule(
        np.array([1, 5, 5, 60], dtype=np.int64), np.array([0, 0, 3, 17], dtype=np.int64)
    )
    due = {
        (p, d, t)
        for p, devices, ends in schedule.due(100, 119)
        for d, t in zip(devices.tolist(), ends.tolist(), strict=True)
    }
    assert sorted(t for p, d, t in due if d == 0) == list(range(100, 120))
    assert sorted(t for p, d, t in due if d == 1) == [100, 105, 110, 115]
    assert sorted(t for p, d, t in due if d == 2) == [103, 108, 113, 118]
    assert sorted(t for p, d, t in due if d == 3) == []  # 17 + 60k: 77, 137
    assert schedule.readings_per_s() == pytest.approx(1 + 0.2 + 0.2 + 1 / 60)


def test_schedule_period_change() -> None:
    schedule = Schedule(np.array([60, 60], dtype=np.int64), np.array([0, 0], dtype=np.int64))
    schedule.set_period(1, 10)
    ends = {d: t.tolist() for _, d, t in ((p, int(ds[0]), ts) for p, ds, ts in schedule.due(1, 60))}
    assert ends == {0: [60], 1: [10, 20, 30, 40, 50, 60]}


def test_schedule_every() -> None:
    schedule = Schedule(np.array([1, 1], dtype=np.int64), np.array([0, 7], dtype=np.int64))
    devices, seconds = schedule.every(0, 599, 300)
    assert sorted(zip(devices.tolist(), seconds.tolist(), strict=True)) == [
        (0, 0),
        (0, 300),
        (1, 7),
        (1, 307),
    ]
