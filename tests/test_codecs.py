"""One codec per boundary, each knowing every field: a field added to a type fails here.

(a) Readings and statuses are built from `Reading._fields` / `DeviceStatus._fields`
(every field set, several values, both kinds, every metric) and round-trip through each
codec: the engine pipe, the rule state, the spool's line protocol, InfluxDB's rows and
the evidence snapshot. (b) Each codec module declares the fields it carries, and they
are compared with the types' fields. A field added to `Reading` then fails (b) for every
codec, and building the readings here until it has example values (`READING_VALUES`);
given them, (a) says which codec loses it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import orjson
import pytest

from linli import engineproc
from linli.cluster import codec as stored_codec
from linli.influx import history
from linli.influx.client import InfluxClient
from linli.ingest import lineprotocol
from linli.rules.breaches import RuleState
from linli.rules.events import RuleId
from linli.rules.judge import SensorState
from linli.rules.reading import METRICS, DeviceStatus, Metric, Reading, SensorKind
from linli.rules.registry import SensorTags, Zone
from linli.store import rulestate, snapshots
from tests.helpers import builder_for

T0 = (int(time.time()) - 3_600) * 1_000  # an hour ago: within InfluxDB's retention policy
N = 12  # readings built: every combination of sensor (3) and kind (2) twice


def _metrics(kind: SensorKind, i: int) -> dict[str, Metric]:
    """Every metric of `kind` (booleans both ways), or only its required one (i % 3 == 0)."""
    every = {
        name: (i + n) % 2 == 0 if spec.boolean else 10.25 + 7 * i + n
        for n, (name, spec) in enumerate(METRICS.items())
        if spec.kind is kind
    }
    return dict(list(every.items())[:1]) if i % 3 == 0 else every


# Several values for each field of a Reading, by name (the i-th reading takes the i-th,
# cycling). A field of Reading missing here fails building the readings: give it values.
READING_VALUES: Mapping[str, Sequence[Any]] = MappingProxyType(
    {
        "sensor": ("n-01", "f 01,x=y", "传感器-3"),
        "kind": (SensorKind.NOISE, SensorKind.FUME),
        "ts_ms": tuple(T0 + 1_001 * i for i in range(N)),  # each (sensor, ts) once
        "seq": (0, 1, 4_294_967_295, 77),
        "period_s": (1, 60, 600),
        "metrics": (_metrics,),  # called with the reading's kind and index
        "flag": (None, "M", None, 'C "x",y=z'),  # CONTRACT §8: HJ 212 data flags
    }
)
STATUS_VALUES: Mapping[str, Sequence[Any]] = MappingProxyType(
    {
        "sensor": ("n-01", "f 01,x=y", "传感器-3"),
        "ts_ms": tuple(T0 + 1_001 * i + 500 for i in range(N)),
        "online": (False, True),
        "fw": (None, "1.2.0", 'v2 "beta", x=y'),
    }
)
RULE_STATE_VALUES: Mapping[str, Sequence[Any]] = MappingProxyType(
    {
        "active": (True, False),
        "since_ms": (1_000, 2_000, 5),  # never None: a state with nothing going on is not saved
        "last_ms": (None, 61_000, 3_000),
        "worst": (None, 88.5, 50.25),
        "told_ms": (None, 31_000),
    }
)


def _pick(values: Mapping[str, Sequence[Any]], fields: Sequence[str], i: int) -> dict[str, Any]:
    missing = [f for f in fields if f not in values]
    assert not missing, f"fields without example values in tests/test_codecs.py: {missing}"
    return {f: values[f][i % len(values[f])] for f in fields}


def readings() -> list[Reading]:
    """N readings, every field of Reading set by name, both kinds, every metric."""
    out = []
    for i in range(N):
        fields = _pick(READING_VALUES, Reading._fields, i)
        fields["metrics"] = fields["metrics"](fields["kind"], i)
        out.append(Reading(**fields))
    return out


def statuses() -> list[DeviceStatus]:
    """N statuses, every field of DeviceStatus set by name, with and without fw."""
    return [DeviceStatus(**_pick(STATUS_VALUES, DeviceStatus._fields, i)) for i in range(N)]


def stored() -> list[Reading | DeviceStatus]:
    """Readings and statuses interleaved, as a batch hands them to the engine."""
    return [x for pair in zip(readings(), statuses(), strict=True) for x in pair]


def by_sensor(items: Sequence[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for r in items:
        out.setdefault(r.sensor, []).append(r)
    return out


def test_the_examples_are_every_field_several_values_both_kinds_every_metric():
    rs = readings()
    for name in Reading._fields:
        assert len({repr(getattr(r, name)) for r in rs}) >= 2, name
    assert {r.kind for r in rs} == set(SensorKind)
    assert {m for r in rs for m in r.metrics} == set(METRICS)
    assert {type(v) for r in rs for v in r.metrics.values()} == {float, bool}
    for name in DeviceStatus._fields:
        assert len({getattr(s, name) for s in statuses()}) >= 2, name


# -- (a) round trips ---------------------------------------------------------------------


def test_the_engine_pipe_round_trips():
    items = stored()
    assert engineproc.decode(engineproc.encode(items)) == items


def test_the_stored_stream_round_trips():
    items = stored()
    assert [stored_codec.decode(stored_codec.encode(x)) for x in items] == items
    assert all(type(stored_codec.decode(stored_codec.encode(x))) is type(x) for x in items)


def test_the_rule_state_round_trips():
    states = list(RuleId)
    for i, (sensor, recent) in enumerate(by_sensor(readings()).items()):
        rules = {
            states[(i + k) % len(states)]: RuleState(**_pick(RULE_STATE_VALUES, RuleState._fields, i + k))
            for k in range(3)
        }  # fmt: skip
        state = SensorState(
            sensor=sensor,
            recent=tuple(recent),
            rules=rules,
            faults=frozenset(states[i : i + 2]),
            last_seen_ms=T0 + i,
            period_s=(1, 60, 600)[i % 3],
            watermark_ms=None if i == 0 else T0 - i,
        )
        assert state_round_trip(state) == state


def state_round_trip(state: SensorState) -> SensorState:
    doc = orjson.loads(orjson.dumps(rulestate.state_doc(state)))  # as the JSON column
    return rulestate.state_of(state.sensor, doc)


def _tags(sensor: str) -> SensorTags:
    return SensorTags(sensor, SensorKind.NOISE, f"site-{sensor}", "g1", Zone.Z2)


def _lines(items: Sequence[Reading | DeviceStatus]) -> bytes:
    """The line protocol ingest writes for these readings and statuses."""
    tags = {s: _tags(s) for s in READING_VALUES["sensor"]}
    builder = builder_for(*tags.values())
    lines = []
    for item in items:
        if isinstance(item, Reading):
            lines.append(builder.reading(item, tags[item.sensor]))
        else:
            line = builder.status(item, tags[item.sensor])
            assert line is not None
            lines.append(line)
    return "\n".join(lines).encode()


def test_the_spool_round_trips():
    items = stored()
    assert lineprotocol.parse_stored(_lines(items)) == items


def test_influxdb_rows_round_trip(influx_url, influx_db):
    items = stored()
    influx = InfluxClient(influx_url, influx_db)
    try:
        influx.ensure_database("400d")
        influx.write(_lines(items))
        read = history.InfluxHistory(influx)
        for sensor, expected in by_sensor(readings()).items():
            assert read.readings_after(sensor, T0 - 1) == expected
    finally:
        influx.close()


def test_an_evidence_snapshot_round_trips():
    for sensor, rs in by_sensor(readings()).items():
        doc = orjson.loads(orjson.dumps(snapshots.snapshot_doc(sensor, rs)))  # the JSON column
        # the API's dict per reading: every field of Reading but its kind (LEFT_OUT), the
        # flag only when there is one
        assert snapshots.snapshot_readings(doc) == [
            {"sensor": r.sensor, "ts": r.ts_ms, "seq": r.seq, "period_s": r.period_s,
             "metrics": r.metrics, **({} if r.flag is None else {"flag": r.flag})}
            for r in rs
        ]  # fmt: skip


# -- (b) declared fields -----------------------------------------------------------------

Declared = Callable[[], Sequence[str]]

# fmt: off
DECLARED = [
    pytest.param(lambda: engineproc.READING_FIELDS, Reading, id="engine pipe: Reading"),
    pytest.param(lambda: engineproc.STATUS_FIELDS, DeviceStatus, id="engine pipe: DeviceStatus"),
    pytest.param(lambda: stored_codec.READING_FIELDS, Reading, id="stored stream: Reading"),
    pytest.param(lambda: stored_codec.STATUS_FIELDS, DeviceStatus, id="stored stream: DeviceStatus"),
    pytest.param(lambda: ("sensor", *rulestate.RECENT_FIELDS), Reading, id="rule state: a recent reading (its sensor the document's)"),
    pytest.param(lambda: rulestate.RULE_STATE_FIELDS, RuleState, id="rule state: RuleState"),
    pytest.param(lambda: ("sensor", *rulestate.STATE_FIELDS), SensorState, id="rule state: SensorState (its sensor the row's)"),
    pytest.param(lambda: tuple(lineprotocol.READING_FIELDS), Reading, id="spool line protocol: Reading"),
    pytest.param(lambda: tuple(lineprotocol.STATUS_FIELDS), DeviceStatus, id="spool line protocol: DeviceStatus"),
    pytest.param(lambda: tuple(history.READING_FIELDS), Reading, id="InfluxDB rows: Reading"),
    pytest.param(lambda: (*snapshots.READING_FIELDS, *snapshots.LEFT_OUT), Reading, id="evidence snapshot: Reading (kind left out)"),
]
# fmt: on


@pytest.mark.parametrize(("declared", "kind"), DECLARED)
def test_each_codec_declares_every_field_of_its_type(declared: Declared, kind: type) -> None:
    fields = declared()
    assert len(set(fields)) == len(fields), f"a field declared twice: {fields}"
    assert sorted(fields) == sorted(kind._fields)  # type: ignore[attr-defined]


def test_the_engine_pipe_s_rows_are_in_the_types_field_order():
    # its rows are the NamedTuples' own tuples: by position
    assert Reading._fields == engineproc.READING_FIELDS
    assert DeviceStatus._fields == engineproc.STATUS_FIELDS
