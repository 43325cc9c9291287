"""The rules' memory per sensor (rules/judge.SensorState) as a JSON document.

The readings of the rules' windows are not in it: the engine reads them back from
InfluxDB at start (documents saved before that change carry a `buffer`, ignored).
"""

from __future__ import annotations

from typing import Any

from linli.rules.breaches import IDLE, RuleState
from linli.rules.events import RuleId
from linli.rules.judge import SensorState
from linli.rules.reading import Reading, SensorKind


def _reading(r: Reading) -> list[Any]:
    return [r.kind.value, r.ts_ms, r.seq, r.period_s, r.metrics]


def _from(sensor: str, doc: list[Any]) -> Reading:
    return Reading(sensor, SensorKind(doc[0]), int(doc[1]), int(doc[2]), int(doc[3]), doc[4])


def _rule_state(doc: list[Any]) -> RuleState:
    """A RuleState from `[active, since_ms, last_ms, worst, told_ms]`.

    Saved before episodes, `[active, since_ms]`: a pending one (over, not sustained yet)
    goes on pending; an active one is forgotten (IDLE), since its occurrence was kept by
    another identity (the window's end): if the breach goes on, its next reading over the
    limit begins an episode with an occurrence of its own.
    """
    if len(doc) >= 5:
        active, since, last, worst, told = doc[:5]
        return RuleState(bool(active), since, last, worst, told)
    active, since = bool(doc[0]), doc[1]
    return IDLE if active or since is None else RuleState(False, since, since, None, None)


def state_doc(state: SensorState) -> dict[str, Any]:
    """A SensorState as JSON."""
    return {
        "recent": [_reading(r) for r in state.recent],
        "rules": {k.value: list(v) for k, v in state.rules.items()},
        "faults": sorted(f.value for f in state.faults),
        "last_seen_ms": state.last_seen_ms,
        "period_s": state.period_s,
        "watermark_ms": state.watermark_ms,
    }


def state_of(sensor: str, doc: dict[str, Any]) -> SensorState:
    """A SensorState from its JSON."""
    return SensorState(
        sensor,
        tuple(_from(sensor, d) for d in doc["recent"]),
        {RuleId(k): state for k, v in doc["rules"].items() if (state := _rule_state(v)) != IDLE},
        frozenset(RuleId(f) for f in doc["faults"]),
        doc["last_seen_ms"],
        int(doc["period_s"]),
        doc.get("watermark_ms"),
    )
