"""Stored readings read back: InfluxDB's rows mapped by column name, the lines ingest wrote."""

from __future__ import annotations

import time

from linli.influx.client import InfluxClient, ResultSeries
from linli.influx.history import InfluxHistory, readings_of
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import SensorTags, Zone
from tests.helpers import builder_for


def test_rows_are_mapped_by_column_name_whatever_their_order():
    columns = ["time", "seq", "period_s", "laeq", "sensor", "lamax", "zone", "limit_db"]
    values = [60_000, 7, 1, 55.5, "n-01", None, "2", 50.0]
    expected = [Reading("n-01", SensorKind.NOISE, 60_000, 7, 1, {"laeq": 55.5})]
    for cols, row in ((columns, values), (columns[::-1], values[::-1])):
        series = ResultSeries("noise", {}, cols, [row])
        assert readings_of([series], SensorKind.NOISE) == expected


def test_a_row_with_no_metric_of_the_kind_is_no_reading():
    series = ResultSeries("noise", {}, ["time", "sensor", "laeq"], [[1, "n-01", None]])
    assert readings_of([series], SensorKind.NOISE) == []


def test_the_lines_ingest_writes_read_back_as_the_same_readings(influx_url, influx_db):
    noise_tags = SensorTags("n 01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    fume_tags = SensorTags("f-01", SensorKind.FUME, "s2", "g1", Zone.Z2)
    builder = builder_for(noise_tags, fume_tags)
    t0 = (int(time.time()) - 3_600) * 1_000  # within the retention policy
    noise = [
        Reading("n 01", SensorKind.NOISE, t0, 1, 60, {"laeq": 55.5, "lamax": 70.25}),
        Reading("n 01", SensorKind.NOISE, t0 + 1_000, 2, 1, {"laeq": 41.0}),  # lamax null
    ]
    fume = [
        Reading("f-01", SensorKind.FUME, t0, 9, 30,
                {"oil_fume": 2.5, "fan_on": True, "purifier_on": False}),
    ]  # fmt: skip
    influx = InfluxClient(influx_url, influx_db)
    try:
        influx.ensure_database("400d")
        lines = [builder.reading(r, noise_tags) for r in noise]
        lines += [builder.reading(r, fume_tags) for r in fume]
        influx.write("\n".join(lines).encode())
        history = InfluxHistory(influx)
        assert history.readings_after("n 01", t0 - 1) == noise
        assert history.readings_after("f-01", t0 - 1) == fume
        assert history.readings_after("n 01", t0) == noise[1:]
    finally:
        influx.close()
