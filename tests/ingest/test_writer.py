"""The writer at start: what the spool holds (readings, statuses) goes to the rule engine again."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from linli.ingest.influx import InfluxClient
from linli.ingest.spool import Spool
from linli.ingest.writer import Writer
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import SensorTags, Zone
from linli.rules.rejection import Rejection
from tests.helpers import builder_for, wait_for

T0 = (int(time.time()) // 60 - 60) * 60_000  # an hour ago, on the minute


class NoRejects:
    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        raise AssertionError("no rejections in this test")


def test_spooled_readings_reach_the_engine_again_at_start_and_influxdb_after(
    influx_url: str, influx_db: str, tmp_path: Path
) -> None:
    # linli died with these acknowledged readings in the spool (InfluxDB was down) and
    # its engine queue lost: InfluxDB, where the engine's replay looks, does not have them
    spool = Spool(tmp_path / "spool", 10_000_000)
    tags = SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    builder = builder_for(tags)
    first = [
        Reading("n-01", SensorKind.NOISE, T0 + 60_000 * i, i, 60, {"laeq": 50.0 + i})
        for i in range(3)
    ]
    second = [
        Reading("n-01", SensorKind.NOISE, T0 + 60_000 * (i + 3), i + 3, 60, {"laeq": 40.0})
        for i in range(2)
    ]
    will = DeviceStatus("n-01", T0 + 60_000 * 2 + 1, False)  # between two readings
    lines = [builder.reading(r, tags) for r in first] + [builder.status(will, tags) or ""]
    spool.append("\n".join(lines).encode())
    spool.append("\n".join(builder.reading(r, tags) for r in second).encode())
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    handed: list[Reading | DeviceStatus] = []
    writer = Writer(influx, NoRejects(), spool, lambda epoch, mids: None, on_stored=handed.extend)
    writer.start()
    try:
        assert handed == [*first, will, *second]  # before anything else, in their order
        wait_for(lambda: spool.size_bytes == 0)  # then the replayer writes them
        rows = influx.query('SELECT count("laeq") FROM "noise"')
        assert rows[0].values[0][1] == 5
    finally:
        writer.stop()
        influx.close()
