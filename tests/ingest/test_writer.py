"""The writer at start: what the spool holds (readings, statuses) goes to the rule engine again."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from linli.influx.client import InfluxClient
from linli.ingest.identity import Unchecked
from linli.ingest.pipeline import Batch
from linli.ingest.spool import Spool
from linli.ingest.writer import Writer
from linli.localservers import free_port
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import SensorTags, Zone
from linli.rules.rejection import ReasonCode, Rejection
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


class Rejects:
    def __init__(self) -> None:
        self.kept: list[Rejection] = []

    def add_rejections(self, rejections: Sequence[Rejection]) -> None:
        self.kept.extend(rejections)


class Counted:
    def __init__(self) -> None:
        self.duplicates: Counter[str] = Counter()

    def rejected_lines(self, rejections: Sequence[Rejection]) -> list[str]:
        return [
            f"rejected,reason={r.reason},sensor={r.sensor} count=1i {r.received_ms}"
            for r in rejections
        ]

    def count_duplicates(self, found: Counter[str]) -> None:
        self.duplicates.update(found)


def test_readings_spooled_unchecked_are_checked_before_the_replayer_writes_them(
    influx_url: str, influx_db: str, tmp_path: Path
) -> None:
    tags = SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    builder = builder_for(tags)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    stored = Reading("n-01", SensorKind.NOISE, T0, 1, 60, {"laeq": 50.0})
    influx.write((builder.reading(stored, tags) + "\n").encode())
    # InfluxDB is down: the writer spools a batch whose readings it could not check
    dead = InfluxClient(f"http://127.0.0.1:{free_port()}", influx_db, timeout_s=0.5)
    spool = Spool(tmp_path / "spool", 10_000_000)
    rejects, counted = Rejects(), Counted()
    handed: list[Reading | DeviceStatus] = []
    down = Writer(dead, rejects, spool, lambda epoch, mids: None, retry_s=0.05)
    conflicting = Reading("n-01", SensorKind.NOISE, T0, 1, 60, {"laeq": 95.0})
    fresh = Reading("n-01", SensorKind.NOISE, T0 + 60_000, 2, 60, {"laeq": 51.0})
    again = Reading("n-01", SensorKind.NOISE, T0, 1, 60, {"laeq": 50.0})
    batch = Batch(0, T0)
    for i, r in enumerate((conflicting, fresh, again)):
        line = builder.reading(r, tags)
        batch.unchecked.append(Unchecked(r, line, "t/n-01/telemetry", b"{%d}" % i, T0 + i, None))
        batch.readings.append(r)
    down.start()
    down.submit(batch)
    wait_for(lambda: down.drained())
    down.stop()
    assert [p.suffix for p, _ in spool.files()] == [".check"]
    # linli starts again with InfluxDB back: the replayer checks them in their turn
    writer = Writer(
        influx, rejects, spool, lambda e, m: None, on_stored=handed.extend, accounting=counted
    )
    writer.start()
    try:
        wait_for(lambda: spool.size_bytes == 0)
        rows = influx.query('SELECT seq, laeq FROM "noise"')[0].values
        assert rows == [[T0, 1, 50], [T0 + 60_000, 2, 51]]  # the stored one as it was
        assert [(r.reason, r.topic, r.payload, r.received_ms) for r in rejects.kept] == [
            (ReasonCode.CONFLICT, "t/n-01/telemetry", b"{0}", T0)  # with its message
        ]
        assert handed == [fresh]  # only what was written reaches the engine
        assert counted.duplicates == Counter({"n-01": 1})
        counts = influx.query('SELECT "count" FROM "rejected"')[0].values
        assert counts == [[T0, 1]]
    finally:
        writer.stop()
        influx.close()
        dead.close()
