"""The writer at start: what the spool holds (readings, statuses) goes to the rule engine again."""

from __future__ import annotations

import threading
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
from tests.helpers import WAIT_S, builder_for, wait_for

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


def unchecked_batch(epoch: int, readings: Sequence[Reading], tags: SensorTags) -> Batch:
    """A batch of readings to check before writing, as a cluster's ingest worker has them
    (a share's readings may be redelivered), each its own message."""
    builder = builder_for(tags)
    batch = Batch(epoch, T0)
    for i, r in enumerate(readings):
        line = builder.reading(r, tags)
        batch.unchecked.append(Unchecked(r, line, "t/n-01/telemetry", b"{%d}" % i, T0 + i, None))
        batch.readings.append(r)
        batch.mids.append(i + 1)
    return batch


def test_in_a_cluster_readings_are_handed_on_before_the_acknowledgement(
    influx_url: str, influx_db: str, tmp_path: Path
) -> None:
    # CONTRACT §12: handing on is publishing to the stored stream, the acknowledgement
    # moves the partition's checkpoint; a worker dying between the two must not leave
    # stored readings never handed on
    tags = SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    readings = [Reading("n-01", SensorKind.NOISE, T0 + 60_000 * i, i, 60, {"laeq": 50.0}) for i in range(3)]  # fmt: skip
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    events: list[tuple[str, object]] = []

    def ack(epoch: int, mids: Sequence[int]) -> None:
        # what InfluxDB holds when the acknowledgement comes, and what was handed on
        stored = influx.query('SELECT count("laeq") FROM "noise"')[0].values[0][1]
        events.append(("ack", (epoch, list(mids), stored)))

    def hand_on(stored: Sequence[Reading | DeviceStatus]) -> None:
        events.append(("handed", list(stored)))

    writer = Writer(
        influx, NoRejects(), Spool(tmp_path / "spool", 10_000_000), ack,
        on_stored=hand_on, hand_on_first=True,
    )  # fmt: skip
    writer.start()
    try:
        writer.submit(unchecked_batch(7, readings, tags))
        wait_for(lambda: writer.drained())
        assert events == [("handed", readings), ("ack", (7, [1, 2, 3], 3))]
    finally:
        writer.stop()
        influx.close()


def test_a_worker_dying_between_storing_and_acking_still_leaves_the_readings_handed_on(
    influx_url: str, influx_db: str, tmp_path: Path
) -> None:
    tags = SensorTags("n-01", SensorKind.NOISE, "s1", "g1", Zone.Z2)
    readings = [Reading("n-01", SensorKind.NOISE, T0 + 60_000 * i, i, 60, {"laeq": 50.0 + i}) for i in range(3)]  # fmt: skip
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    # the first worker stores the batch and stops dead before handing on (its process
    # killed there): nothing handed on, nothing acknowledged
    dying = threading.Event()
    dead = threading.Event()
    acked: list[list[int]] = []

    def die(_: Sequence[Reading | DeviceStatus]) -> None:
        dying.set()
        dead.wait(WAIT_S)  # a process killed here does no more

    first = Writer(
        influx, NoRejects(), Spool(tmp_path / "spool-1", 10_000_000),
        lambda e, mids: acked.append(list(mids)), on_stored=die, hand_on_first=True,
    )  # fmt: skip
    first.start()
    first.submit(unchecked_batch(1, readings, tags))
    try:
        wait_for(dying.is_set)
        assert influx.query('SELECT count("laeq") FROM "noise"')[0].values[0][1] == 3
        assert acked == []
        # the next owner of the partition gets the same messages again (never acked): it
        # finds them stored and hands them on all the same, then acknowledges
        handed: list[Reading | DeviceStatus] = []
        counted = Counted()
        second = Writer(
            influx, NoRejects(), Spool(tmp_path / "spool-2", 10_000_000),
            lambda e, mids: acked.append(list(mids)), on_stored=handed.extend,
            accounting=counted, hand_on_first=True,
        )  # fmt: skip
        second.start()
        try:
            second.submit(unchecked_batch(2, readings, tags))
            wait_for(lambda: second.drained())
            assert handed == readings
            assert acked == [[1, 2, 3]]
            assert counted.duplicates == Counter({"n-01": 3})  # stored once, not twice
            rows = influx.query('SELECT seq, laeq FROM "noise"')[0].values
            assert rows == [[r.ts_ms, r.seq, r.metrics["laeq"]] for r in readings]
        finally:
            second.stop()
    finally:
        dead.set()
        first.stop()
        influx.close()
