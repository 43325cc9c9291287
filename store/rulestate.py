"""The rules' memory per sensor (rules/judge.SensorState) as a JSON document.

Saved with named fields: a reading of `recent` and a rule's state are each a dict keyed
by field name (`RECENT_FIELDS`, `RULE_STATE_FIELDS`; tests/test_codecs.py compares them
with the types' fields). Documents saved before hold position lists, read as they were:
a reading `[kind, ts_ms, seq, period_s, metrics]`, a rule's state
`[active, since_ms, last_ms, worst, told_ms]` or, before episodes, `[active, since_ms]`.

The readings of the rules' windows are not in it: the engine reads them back from
InfluxDB at start (documents saved before that change carry a `buffer`, ignored).
"""

from __future__ import annotations

from typing import Any, Final

from linli.rules.breaches import IDLE, RuleState
from linli.rules.events import RuleId
from linli.rules.judge import SensorState
from linli.rules.reading import Reading, SensorKind

# The fields each part of the document carries, by name. A reading's sensor is the
# document's own (`SensorState.sensor`, the row's key), so `recent` leaves it out.
RECENT_FIELDS: Final = ("kind", "ts_ms", "seq", "period_s", "metrics", "flag")
RULE_STATE_FIELDS: Final = ("active", "since_ms", "last_ms", "worst", "told_ms")
STATE_FIELDS: Final = ("recent", "rules", "faults", "last_seen_ms", "period_s", "watermark_ms")


def _reading(r: Reading) -> dict[str, Any]:
    doc = {
        "kind": r.kind.value,
        "ts_ms": r.ts_ms,
        "seq": r.seq,
        "period_s": r.period_s,
        "metrics": r.metrics,
    }
    if r.flag is not None:  # CONTRACT §8: only a flagged reading carries one
        doc["flag"] = r.flag
    return doc


def _from(sensor: str, doc: dict[str, Any] | list[Any]) -> Reading:
    if isinstance(doc, list):  # saved before named fields: [kind, ts_ms, seq, period_s, metrics]
        return Reading(sensor, SensorKind(doc[0]), int(doc[1]), int(doc[2]), int(doc[3]), doc[4])
    return Reading(
        sensor,
        SensorKind(doc["kind"]),
        int(doc["ts_ms"]),
        int(doc["seq"]),
        int(doc["period_s"]),
        doc["metrics"],
        doc.get("flag"),  # monitoring data (or saved before data flags): none
    )


def _rule_state_doc(s: RuleState) -> dict[str, Any]:
    return {
        "active": s.active,
        "since_ms": s.since_ms,
        "last_ms": s.last_ms,
        "worst": s.worst,
        "told_ms": s.told_ms,
    }


def _rule_state(doc: dict[str, Any] | list[Any]) -> RuleState:
    """A RuleState from its named fields, or from a list saved before them.

    `[active, since_ms, last_ms, worst, told_ms]`: by position. Saved before episodes,
    `[active, since_ms]`: a pending one (over, not sustained yet) goes on pending; an
    active one is forgotten (IDLE), since its occurrence was kept by another identity
    (the window's end): if the breach goes on, its next reading over the limit begins an
    episode with an occurrence of its own.
    """
    if isinstance(doc, dict):
        return RuleState(
            bool(doc["active"]), doc["since_ms"], doc["last_ms"], doc["worst"], doc["told_ms"]
        )
    if len(doc) >= 5:
        active, since, last, worst, told = doc[:5]
        return RuleState(bool(active), since, last, worst, told)
    active, since = bool(doc[0]), doc[1]
    return IDLE if active or since is None else RuleState(False, since, since, None, None)


def state_doc(state: SensorState) -> dict[str, Any]:
    """A SensorState as JSON."""
    return {
        "recent": [_reading(r) for r in state.recent],
        "rules": {k.value: _rule_state_doc(v) for k, v in state.rules.items()},
        "faults": sorted(f.value for f in state.faults),
        "last_seen_ms": state.last_seen_ms,
        "period_s": state.period_s,
        "watermark_ms": state.watermark_ms,
    }


def state_of(sensor: str, doc: dict[str, Any]) -> SensorState:
    """A SensorState from its JSON (named fields, or the position lists saved before)."""
    return SensorState(
        sensor,
        tuple(_from(sensor, d) for d in doc["recent"]),
        {RuleId(k): state for k, v in doc["rules"].items() if (state := _rule_state(v)) != IDLE},
        frozenset(RuleId(f) for f in doc["faults"]),
        doc["last_seen_ms"],
        int(doc["period_s"]),
        doc.get("watermark_ms"),
    )


def newest_state_of(sensor: str, doc: dict[str, Any]) -> SensorState:
    """What the board's overviews need of a sensor's memory, read cheaply: its faults,
    when it was last judged and the newest of `recent` (the rules' states left out).
    A street's overview reads every sensor's document on each request."""
    recent = doc["recent"]
    newest = max(
        recent, key=lambda d: int(d[1] if isinstance(d, list) else d["ts_ms"]), default=None
    )
    return SensorState(
        sensor,
        () if newest is None else (_from(sensor, newest),),
        {},
        frozenset(RuleId(f) for f in doc["faults"]),
        doc["last_seen_ms"],
        int(doc["period_s"]),
        doc.get("watermark_ms"),
    )
