"""Scenario files: durations, events, refusals with a reason, and the switch timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from linli.sim.scenario import (
    SCENARIO_DIR,
    BadVariant,
    EventType,
    ScenarioError,
    ScenarioEvent,
    load_scenario,
    parse_duration,
    parse_scenario,
)
from linli.sim.sensors import load_community
from linli.sim.timeline import NEVER, Timeline

COMMUNITY = Path(__file__).resolve().parents[2] / "community" / "tianxin.toml"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        pytest.param(90, 90, id="a bare number is seconds"),
        pytest.param("90", 90, id="so is a bare numeric string"),
        pytest.param("45s", 45, id="seconds"),
        pytest.param("2m", 120, id="minutes"),
        pytest.param("1h30m", 5400, id="hours and minutes"),
        pytest.param("1h 0m 5s", 3605, id="spaces between parts"),
        pytest.param("1.5m", 90, id="fractions"),
        pytest.param("2d", 172_800, id="days"),
        pytest.param(0.2, 1, id="rounded up to a whole second"),
        pytest.param("0", 0, id="zero"),
    ],
)
def test_parse_duration(text: str | int | float, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("2 minutes", id="words"),
        pytest.param("m", id="no number"),
        pytest.param("-5s", id="negative"),
        pytest.param("", id="empty"),
        pytest.param(True, id="a boolean"),
    ],
)
def test_parse_duration_refuses(text: Any) -> None:
    with pytest.raises(ScenarioError, match="duration"):
        parse_duration(text)


def test_parse_events() -> None:
    scenario = parse_scenario(
        {
            "name": "demo",
            "event": [
                {"sensor": "n-01", "type": "offline", "at": "10m", "for": "5m"},
                {"sensor": "n-01", "type": "noise", "at": "2m", "for": "10m", "add_db": 15},
                {"sensor": "f-01", "type": "fume", "at": 30, "for": 60, "set_mg_m3": 4.5},
                {"sensor": "f-01", "type": "purifier_off", "at": "1m", "for": "1h"},
                {"sensor": "n-02", "type": "bad_payload", "at": "3m", "variant": "schema"},
                {"sensor": "n-02", "type": "bad_payload", "at": "4m", "payload": "hello"},
                {"sensor": "n-03", "type": "stuck", "at": "5m", "for": "5m", "note": "frozen"},
            ],
        }
    )
    assert scenario.name == "demo"
    assert [(e.sensor, e.type, e.at_s, e.for_s) for e in scenario.events] == [
        ("f-01", EventType.FUME, 30, 60),
        ("f-01", EventType.PURIFIER_OFF, 60, 3600),
        ("n-01", EventType.NOISE, 120, 600),
        ("n-02", EventType.BAD_PAYLOAD, 180, 0),
        ("n-02", EventType.BAD_PAYLOAD, 240, 0),
        ("n-03", EventType.STUCK, 300, 300),
        ("n-01", EventType.OFFLINE, 600, 300),
    ]
    by_at = {e.at_s: e for e in scenario.events}
    assert by_at[120].add_db == 15.0 and by_at[120].set_db is None
    assert by_at[30].set_mg_m3 == 4.5 and by_at[30].factor is None
    assert by_at[180].variant is BadVariant.SCHEMA and by_at[180].payload is None
    assert by_at[240].payload == b"hello" and by_at[240].variant is BadVariant.NOT_JSON
    assert scenario.sensors() == {"n-01", "n-02", "n-03", "f-01"}


@pytest.mark.parametrize(
    ("event", "message"),
    [
        pytest.param(
            {"sensor": "n", "type": "boom", "at": 1}, "type 'boom' is not one of", id="unknown type"
        ),
        pytest.param(
            {"sensor": "n", "type": "noise", "at": 1, "for": 5},
            "exactly one of add_db or set_db",
            id="noise without a level",
        ),
        pytest.param(
            {"sensor": "n", "type": "noise", "at": 1, "for": 5, "add_db": 3, "set_db": 70},
            "exactly one of",
            id="noise with both",
        ),
        pytest.param(
            {"sensor": "n", "type": "fume", "at": 1, "for": 5, "factor": -2},
            "negative",
            id="negative factor",
        ),
        pytest.param(
            {"sensor": "n", "type": "offline", "at": 1},
            "needs a positive 'for'",
            id="offline without for",
        ),
        pytest.param(
            {"sensor": "n", "type": "offline", "at": 1, "for": 5, "add_db": 3},
            "takes no key add_db",
            id="a key of another type",
        ),
        pytest.param({"type": "stuck", "at": 1, "for": 5}, "'sensor' must be", id="no sensor"),
        pytest.param({"sensor": "n", "type": "stuck", "for": 5}, "'at' is missing", id="no at"),
        pytest.param(
            {"sensor": "n", "type": "noise", "at": 1, "for": 5, "add_db": "x"},
            "not a number",
            id="text level",
        ),
        pytest.param(
            {"sensor": "n", "type": "bad_payload", "at": 1, "variant": "rude"},
            "variant 'rude'",
            id="unknown variant",
        ),
    ],
)
def test_refusals_name_the_event_and_key(event: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match="event 1") as caught:
        parse_scenario({"event": [event]})
    assert message in str(caught.value)


def test_overlapping_offline_spells_are_refused() -> None:
    spells = [
        {"sensor": "n-01", "type": "offline", "at": "1m", "for": "5m"},
        {"sensor": "n-01", "type": "offline", "at": "3m", "for": "5m"},
    ]
    with pytest.raises(ScenarioError, match="offline spells of sensor 'n-01' overlap"):
        parse_scenario({"event": spells})


def test_back_to_back_spells_are_fine() -> None:
    spells = [
        {"sensor": "n-01", "type": "offline", "at": "1m", "for": "2m"},
        {"sensor": "n-01", "type": "offline", "at": "3m", "for": "2m"},
    ]
    assert len(parse_scenario({"event": spells}).events) == 2


def test_shipped_tianxin_scenario_names_sensors_of_the_demo_community() -> None:
    scenario = load_scenario("tianxin")
    assert scenario.name == "tianxin"
    assert len(scenario.events) == 15
    assert {e.type for e in scenario.events} == set(EventType)
    assert {e.variant for e in scenario.events if e.type is EventType.BAD_PAYLOAD} == set(
        BadVariant
    )
    assert scenario.sensors() <= {s.id for s in load_community(COMMUNITY)}
    assert load_scenario(SCENARIO_DIR / "tianxin.toml") == scenario


def test_unreadable_scenario(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[event]\n")
    with pytest.raises(ScenarioError, match=r"bad\.toml"):
        load_scenario(bad)


def test_timeline_switches_in_order() -> None:
    def ev(kind: EventType, at_s: int, for_s: int = 0) -> ScenarioEvent:
        return ScenarioEvent("n-01", kind, at_s, for_s)

    offline1, offline2 = ev(EventType.OFFLINE, 10, 20), ev(EventType.OFFLINE, 30, 5)
    bad, noise = ev(EventType.BAD_PAYLOAD, 30), ev(EventType.NOISE, 5, 100)
    timeline = Timeline([offline2, bad, noise, offline1], start_s=1000)
    assert timeline.next_s() == 1010
    assert timeline.due(1009) == []
    assert timeline.due(1010) == [(offline1, True)]
    assert timeline.next_s() == 1030
    # At one instant the ending spell switches off before the next switches on.
    assert timeline.due(1040) == [
        (offline1, False),
        (offline2, True),
        (bad, True),
        (offline2, False),
    ]
    assert timeline.next_s() == NEVER
