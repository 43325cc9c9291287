"""Ingest owning a share of the sensors (CONTRACT §12), on a real influxd: the identity
memory and seq baseline of the sensors gained are loaded in one query, after which no
reading of theirs is checked in InfluxDB; duplicates and conflicts (CONTRACT §2 and
CONTRACT §3: the first stored reading is the evidence) are judged right across a
hand-over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from linli.influx.client import InfluxClient, ResultSeries
from linli.ingest import identity
from linli.ingest.memory import MemoryStore
from linli.ingest.pipeline import Pipeline
from linli.ingest.spool import Spool
from linli.ingest.writer import Writer
from linli.rules.rejection import ReasonCode
from tests.helpers import noise, small_registry, wait_for

PREFIX = "linli/v1"
T0 = (int(time.time()) // 60 - 60) * 60_000  # an hour ago, on the minute
MIN = 60_000
NOW = T0 + 3_600_000


class CountingInflux(InfluxClient):
    """The real client, counting its queries (a check of readings is one)."""

    queries = 0

    def query(self, q: str, *, epoch: str = "ms", db: str | None = None) -> list[ResultSeries]:
        self.queries += 1
        return super().query(q, epoch=epoch, db=db)


@dataclass
class Worker:
    """One ingest worker's pipeline and writer on the shared InfluxDB."""

    influx: CountingInflux
    store: MemoryStore
    pipeline: Pipeline
    writer: Writer

    def send(self, *readings: dict[str, Any], sensor: str = "n-01") -> None:
        """Messages as the partition delivers them, then stored (or judged) whole."""
        for i, r in enumerate(readings):
            self.pipeline.accept(f"{PREFIX}/{sensor}/telemetry", orjson.dumps(r), i + 1, NOW)
        self.pipeline.flush()
        wait_for(lambda: self.writer.drained())

    def account(self) -> None:
        """The next accounting point: seq gaps and duplicates written."""
        self.pipeline.tick(time.time_ns() // 1_000_000 + 1000)
        self.pipeline.flush()
        wait_for(lambda: self.writer.drained())


@pytest.fixture
def workers(influx_url: str, influx_db: str, tmp_path: Path) -> Iterator[list[Worker]]:
    made = []
    for name in ("a", "b"):
        influx = CountingInflux(influx_url, influx_db)
        influx.ensure_database("400d")
        store = MemoryStore(small_registry())
        spool = Spool(tmp_path / name, 10_000_000)
        writer = Writer(influx, store, spool, lambda epoch, mids: None)
        pipeline = Pipeline(
            store, writer.submit, prefix=PREFIX, seq_grace_ms=0, account_every_ms=1,
            owned_sensors=True,
        )  # fmt: skip
        writer.accounting = pipeline
        writer.start()
        influx.queries = 0
        made.append(Worker(influx, store, pipeline, writer))
    yield made
    for w in made:
        w.writer.stop()
        w.influx.close()


def stored(influx: InfluxClient) -> list[tuple[int, int, float]]:
    rows = influx.query('SELECT "seq", "laeq" FROM "noise" WHERE "sensor" = \'n-01\'')
    return [(int(t), int(seq), laeq) for t, seq, laeq in rows[0].values] if rows else []


def accounted(influx: InfluxClient) -> tuple[int, int]:
    q = 'SELECT sum("seq_gaps"), sum("duplicates") FROM "device" WHERE "sensor" = \'n-01\''
    rows = influx.query(q)
    return (int(rows[0].values[0][1]), int(rows[0].values[0][2])) if rows else (0, 0)


def test_a_hand_over_keeps_duplicates_and_conflicts_judged_without_checks(
    workers: list[Worker], influx_url: str, influx_db: str
) -> None:
    a, b = workers
    looking = InfluxClient(influx_url, influx_db)  # the test's own reads, not counted
    first = [noise(T0 + i * MIN, i + 1, 50.0 + i) for i in range(10)]
    # A gains n-01 (nothing stored yet): one query, then no check per reading
    a.pipeline.own(identity.owned_stored(a.influx, {"n-01"}, NOW))
    assert a.influx.queries == 1
    a.send(*first)
    assert a.influx.queries == 1
    assert [s for _, s, _ in stored(looking)] == list(range(1, 11))
    # A loses n-01 (after storing what it read), B gains it: one query for the set
    a.pipeline.disown({"n-01"})
    b.pipeline.own(identity.owned_stored(b.influx, {"n-01", "f-01"}, NOW))
    assert b.influx.queries == 1
    # B gets what A stored but had not acknowledged again (a redelivery), a device's
    # resend of ts 10 with other values, then the stream goes on with seq 12 (11 lost)
    b.send(first[8], first[9])
    b.send(noise(T0 + 9 * MIN, 10, 95.0), noise(T0 + 9 * MIN, 7, 59.0))
    b.send(noise(T0 + 11 * MIN, 12, 61.0), noise(T0 + 12 * MIN, 13, 62.0))
    assert b.influx.queries == 1  # every one decided in memory: no check in InfluxDB
    assert b.pipeline.stats.duplicates == 2
    conflicts = [r for r in b.store.rejections if r.reason is ReasonCode.CONFLICT]
    assert [r.detail.split(" differs ")[1] for r in conflicts] == [
        "(laeq 59 → 95.0) and was not written over it",  # as InfluxDB gives it back
        "(seq 10 → 7) and was not written over it",
    ]
    # what A stored stays the evidence; B's new readings follow it
    assert stored(looking) == [
        *((T0 + i * MIN, i + 1, 50.0 + i) for i in range(10)),
        (T0 + 11 * MIN, 12, 61.0),
        (T0 + 12 * MIN, 13, 62.0),
    ]
    # the gap across the hand-over is counted from the newest stored seq (10)
    b.account()
    assert accounted(looking) == (1, 2)
    # a reading older than the memory holds is checked in InfluxDB, as before
    b.send(noise(T0, 1, 70.0))
    assert b.influx.queries == 2  # the check
    assert [r.reason for r in b.store.rejections][-1] is ReasonCode.CONFLICT
    # A, no longer owning n-01, checks whatever of it still reaches it, and accounts none
    a.send(noise(T0 + 13 * MIN, 14, 63.0))
    assert a.influx.queries == 2  # the check
    looking.close()
