"""Evidence snapshots: stored as rows under one header, given out as a dict per reading."""

from __future__ import annotations

import orjson

from linli.rules.reading import Reading, SensorKind
from linli.store.snapshots import snapshot_doc, snapshot_readings


def test_a_snapshot_comes_back_as_the_readings_it_was_made_of():
    readings = [
        Reading("n-01", SensorKind.NOISE, 60_000 * i, i, 60, {"laeq": 50.0 + i, "lamax": 70.0})
        for i in range(3)
    ]
    stored = orjson.loads(orjson.dumps(snapshot_doc("n-01", readings)))  # as the JSON column
    assert snapshot_readings(stored) == [
        {"sensor": r.sensor, "ts": r.ts_ms, "seq": r.seq, "period_s": 60, "metrics": r.metrics}
        for r in readings
    ]


def test_a_snapshot_stored_as_a_list_of_readings_before_the_rows_format_is_read_as_it_is():
    old = [{"sensor": "n-01", "ts": 1, "seq": 1, "period_s": 60, "metrics": {"laeq": 50.0}}]
    assert snapshot_readings(old) == old


def test_an_empty_snapshot():
    assert snapshot_readings(orjson.loads(orjson.dumps(snapshot_doc("n-01", [])))) == []


def test_a_snapshot_is_stored_as_rows_under_its_named_header_as_before():
    reading = Reading("n-01", SensorKind.NOISE, 60_000, 7, 60, {"laeq": 50.0})
    assert orjson.loads(orjson.dumps(snapshot_doc("n-01", [reading]))) == {
        "sensor": "n-01",
        "fields": ["ts", "seq", "period_s", "metrics", "flag"],
        "rows": [[60_000, 7, 60, {"laeq": 50.0}, None]],
    }


def test_a_flagged_reading_keeps_its_flag_and_a_valid_one_shows_none():
    """CONTRACT §8: a maintenance reading in evidence says so; monitoring data is as before."""
    readings = [
        Reading("f-01", SensorKind.FUME, 60_000, 1, 60, {"oil_fume": 3.0}, "M"),
        Reading("f-01", SensorKind.FUME, 120_000, 2, 60, {"oil_fume": 1.0}),
    ]
    stored = orjson.loads(orjson.dumps(snapshot_doc("f-01", readings)))
    assert snapshot_readings(stored) == [
        {"sensor": "f-01", "ts": 60_000, "seq": 1, "period_s": 60, "metrics": {"oil_fume": 3.0},
         "flag": "M"},
        {"sensor": "f-01", "ts": 120_000, "seq": 2, "period_s": 60, "metrics": {"oil_fume": 1.0}},
    ]  # fmt: skip


def test_a_snapshot_is_read_by_the_header_it_was_stored_with():
    stored = {"sensor": "n-01", "fields": ["seq", "ts", "metrics"], "rows": [[7, 1, {}]]}
    assert snapshot_readings(stored) == [{"sensor": "n-01", "seq": 7, "ts": 1, "metrics": {}}]
