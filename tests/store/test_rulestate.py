"""The rules' saved memory: a SensorState round-trips by named fields, and the position lists
saved before (also the rule states saved before episodes) load as they did."""

from __future__ import annotations

import orjson
import pytest

from linli.rules.breaches import RuleState
from linli.rules.events import RuleId
from linli.rules.judge import SensorState
from linli.rules.reading import Reading, SensorKind
from linli.store.rulestate import state_doc, state_of

STATE = SensorState(
    "n-01",
    (Reading("n-01", SensorKind.NOISE, 61_000, 7, 1, {"laeq": 58.1, "lamax": 75.0}),),
    {
        RuleId.NOISE_NIGHT_MAX: RuleState(True, 1_000, 61_000, 88.0, 31_000),
        RuleId.NOISE_LEQ: RuleState(False, 20_000, 20_000, 50.3, None),
    },
    frozenset({RuleId.DEVICE_STUCK}),
    62_000,
    1,
    61_000,
)


def test_a_sensor_state_round_trips_through_json() -> None:
    assert state_of("n-01", orjson.loads(orjson.dumps(state_doc(STATE)))) == STATE


def test_readings_and_rule_states_are_saved_by_field_name() -> None:
    doc = state_doc(STATE)
    assert doc["recent"] == [
        {"kind": "noise", "ts_ms": 61_000, "seq": 7, "period_s": 1,
         "metrics": {"laeq": 58.1, "lamax": 75.0}},
    ]  # fmt: skip
    assert doc["rules"]["noise_night_max"] == {
        "active": True, "since_ms": 1_000, "last_ms": 61_000, "worst": 88.0, "told_ms": 31_000,
    }  # fmt: skip


def test_a_document_saved_as_position_lists_loads_as_before() -> None:
    saved = {
        "recent": [["noise", 61_000, 7, 1, {"laeq": 58.1, "lamax": 75.0}]],
        "rules": {"noise_night_max": [True, 1_000, 61_000, 88.0, 31_000],
                  "noise_leq": [False, 20_000, 20_000, 50.3, None]},
        "faults": ["device_stuck"],
        "last_seen_ms": 62_000,
        "period_s": 1,
        "watermark_ms": 61_000,
        "buffer": [["noise", 1, 1, 60, {"laeq": 50.0}]],  # before the windows were replayed
    }  # fmt: skip
    assert state_of("n-01", orjson.loads(orjson.dumps(saved))) == STATE


@pytest.mark.parametrize(
    ("saved", "loaded"),
    [
        pytest.param(
            [True, 5_000],
            {},
            id="on: forgotten (its occurrence kept by its end); a new episode if it goes on",
        ),
        pytest.param(
            [False, 5_000],
            {RuleId.NOISE_LEQ: RuleState(False, 5_000, 5_000, None, None)},
            id="over, not sustained yet: pending since then",
        ),
    ],
)
def test_a_rule_state_saved_before_episodes_loads(saved, loaded) -> None:
    doc = {"recent": [], "rules": {"noise_leq": saved}, "faults": [], "last_seen_ms": 1,
           "period_s": 60, "watermark_ms": 1}  # fmt: skip
    assert state_of("n-01", doc).rules == loaded


def test_the_boards_read_keeps_the_faults_and_the_newest_reading_alone() -> None:
    """The overviews read every sensor's document per request: only what they show."""
    from linli.store.rulestate import newest_state_of

    older = Reading("n-01", SensorKind.NOISE, 1_000, 1, 1, {"laeq": 50.0})
    newer = Reading("n-01", SensorKind.NOISE, 90_000, 9, 1, {"laeq": 66.0})
    # kept as received, so not by time: the newest is found by its timestamp
    full = STATE._replace(recent=(older, newer, STATE.recent[0]))
    doc = orjson.loads(orjson.dumps(state_doc(full)))
    lean = newest_state_of("n-01", doc)
    assert lean.recent == (newer,)
    assert (lean.faults, lean.last_seen_ms, lean.period_s) == (
        full.faults, full.last_seen_ms, full.period_s,
    )  # fmt: skip
    doc["recent"] = [["noise", 61_000, 7, 1, {"laeq": 58.1}], ["noise", 3_000, 2, 1, {}]]
    assert [r.ts_ms for r in newest_state_of("n-01", doc).recent] == [61_000]
    doc["recent"] = []
    assert newest_state_of("n-01", doc).recent == ()
