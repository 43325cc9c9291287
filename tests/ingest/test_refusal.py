"""Isolating the points InfluxDB refuses: the batch bisected down to the refused lines."""

from __future__ import annotations

import pytest

from linli.influx.client import InfluxRejected
from linli.ingest.refusal import isolate, not_storable, sensor_of
from linli.rules.rejection import ReasonCode


class FakeInflux:
    """Refuses any body holding a line with `bad`, as InfluxDB 1.6 answers 400 for it."""

    def __init__(self) -> None:
        self.stored: set[str] = set()
        self.writes = 0

    def write(self, body: bytes) -> None:
        self.writes += 1
        lines = body.decode().splitlines()
        bad = [line for line in lines if "bad" in line]
        self.stored.update(line for line in lines if "bad" not in line)  # a partial write
        if bad:
            raise InfluxRejected("refused", f"unable to parse '{bad[0]}'")


@pytest.mark.parametrize(
    ("n", "bad", "writes"),
    [
        pytest.param(8, [], 1, id="nothing refused → one write"),
        pytest.param(8, [5], 7, id="one bad line in 8 → about 2·log2(8) more writes"),
        pytest.param(8, [0, 7], 11, id="two bad lines at both ends → both isolated"),
        pytest.param(1, [0], 1, id="a single bad line → refused at once"),
        pytest.param(5, [0, 1, 2, 3, 4], 9, id="all bad → every line refused"),
    ],
)
def test_isolate_stores_the_rest_and_names_each_refused_line(n, bad, writes):
    lines = [f"noise,sensor=n-01 laeq={'bad' if i in bad else '50.0'} {i}" for i in range(n)]
    influx = FakeInflux()
    refused = isolate(influx.write, lines)
    assert refused == [(i, f"unable to parse '{lines[i]}'") for i in bad]
    assert influx.stored == {line for i, line in enumerate(lines) if i not in bad}
    assert influx.writes == writes


@pytest.mark.parametrize(
    ("line", "sensor"),
    [
        pytest.param("noise,grid=g1,sensor=n-01,site=s1 laeq=50.0 1", "n-01", id="among tags"),
        pytest.param("device,sensor=f-01 uptime_s=1i 1", "f-01", id="the last tag"),
        pytest.param("rejected,reason=x count=1i 1", None, id="no sensor tag → None"),
        pytest.param("noise laeq=1,sensor=n-01 1", None, id="a field named so is not a tag"),
    ],
)
def test_sensor_of_a_line(line, sensor):
    assert sensor_of(line) == sensor


def test_a_refused_line_from_the_spool_keeps_the_line_as_its_payload():
    line = "noise,sensor=n-01 laeq=50.0 1"
    rejection = not_storable(line, "field type conflict", None, "spool/000000000003.lp", 7)
    assert (rejection.topic, rejection.payload, rejection.received_ms) == (
        "spool/000000000003.lp",
        line.encode(),
        7,
    )
    assert (rejection.reason, rejection.sensor) == (ReasonCode.NOT_STORABLE, "n-01")
    assert rejection.detail == (
        "InfluxDB refused the point 'noise,sensor=n-01 laeq=50.0 1' "
        "(spool/000000000003.lp): field type conflict"
    )
