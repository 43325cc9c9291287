"""`linli demo`'s clock and the Tianxin scenario: lunch, evening and night come within minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from linli.demo import DAY_SPAN, replay_start
from linli.sim.scenario import EventType, load_scenario

# the demo's scenario (installed as package data of linli.sim: linli demo --check)
SCENARIO = Path(__file__).resolve().parents[1] / "firmware-sim" / "scenarios" / "tianxin.toml"

TZ = ZoneInfo("Asia/Shanghai")
SPEED = 240  # linli demo's default --speed


@pytest.mark.parametrize(
    ("now", "start"),
    [
        pytest.param("2026-11-27 12:54", "2026-11-26 10:30", id="lunchtime → yesterday"),
        pytest.param("2026-11-27 23:30", "2026-11-27 10:30", id="today's 23:30 passed → today"),
        pytest.param("2026-11-27 23:29", "2026-11-26 10:30", id="a minute before → yesterday"),
        pytest.param("2026-11-27 00:10", "2026-11-26 10:30", id="after midnight → yesterday"),
    ],
)
def test_the_demo_replays_the_most_recent_finished_day_from_1030(now: str, start: str) -> None:
    at = datetime.fromisoformat(now).replace(tzinfo=TZ)
    got = replay_start(at)
    assert got == datetime.fromisoformat(start).replace(tzinfo=TZ)
    assert got + DAY_SPAN <= at < got + timedelta(days=7)  # all in the past, none too old


def test_the_scenario_has_the_four_demo_cases_at_their_local_times() -> None:
    """Offsets from 10:30: lunch fume, evening purifier off, an outage, a KTV night."""
    events = {(e.sensor, e.type): e for e in load_scenario(SCENARIO).events}
    start = datetime(2026, 11, 26, 10, 30, tzinfo=TZ)

    def clock(sensor: str, kind: EventType) -> tuple[str, str]:
        e = events[(sensor, kind)]
        begin, end = start + timedelta(seconds=e.at_s), start + timedelta(seconds=e.end_s)
        return begin.strftime("%H:%M"), end.strftime("%H:%M")

    assert clock("f-rest-02", EventType.FUME) == ("11:30", "12:10")  # lunch 11:00–13:30
    assert events[("f-rest-02", EventType.FUME)].factor == 3  # ~0.95 → ~2.8 mg/m³ > 2.0
    assert clock("f-bbq-01", EventType.PURIFIER_OFF) == ("18:00", "18:40")  # fan on 16:30–02:30
    assert clock("n-hj-05", EventType.OFFLINE) == ("14:00", "14:30")
    assert clock("n-ktv-01", EventType.NOISE) == ("22:10", "22:50")  # night from 22:00
    assert events[("n-ktv-01", EventType.NOISE)].add_db == 15  # ~80 dB(A) against 55
    # the last of them is judged within about three real minutes at ×240
    last_case_s = events[("n-ktv-01", EventType.NOISE)].at_s + 10 * 60
    assert last_case_s / SPEED < 200
    assert max(e.end_s for e in events.values()) <= DAY_SPAN.total_seconds()


def test_the_demo_runs_a_street_of_two_communities_with_one_street_team() -> None:
    """CONTRACT §9: the bundled files are Tianxin and its neighbour Liming of Jianqiao
    street; they load as one street, every id unique, the street team in one of them, and
    the simulator takes the sensors of both."""
    import io

    from linli.community import load_street
    from linli.demo import bundled, check
    from linli.settings import Settings
    from linli.sim.sensors import load_community as sim_sensors

    with bundled() as (files, _scenario):
        street = load_street(files)
        sensors = [s for path in files for s in sim_sensors(path)]
    assert [c.id for c in street.communities] == ["tianxin", "liming"]
    assert street.street is not None and street.street.name == "笕桥街道 综合执法队"
    grids = [g.community for c in street.communities for g in c.grid_records()]
    assert set(grids) == {"tianxin", "liming"}
    assert len(sensors) == sum(len(c.sensor) for c in street.communities) > 40
    out = io.StringIO()
    assert check(Settings(), None, out) == 0
    text = out.getvalue()
    assert "tianxin, 25 sites" in text and "liming, 4 sites" in text and "笕桥街道" in text
