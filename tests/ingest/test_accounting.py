"""The device accounting (seq gaps and duplicates, CONTRACT §2) as the pipeline writes it:
never two points of one sensor at one millisecond, which InfluxDB would keep as one (the
second's counts over the first's)."""

from __future__ import annotations

import time

import orjson

from linli.ingest.memory import MemoryStore
from linli.ingest.pipeline import Batch, Pipeline
from tests.helpers import noise, small_registry

PREFIX = "linli/v1"


def test_two_accountings_in_one_millisecond_are_two_points() -> None:
    batches: list[Batch] = []
    pipeline = Pipeline(
        MemoryStore(small_registry()), batches.append, prefix=PREFIX, seq_grace_ms=0,
        account_every_ms=0,
    )  # fmt: skip
    now = time.time_ns() // 1_000_000
    t = now - 60_000
    pipeline.seed_identity({})  # nothing stored yet: identity decided in memory
    pipeline.tick(now - 5)
    topic = f"{PREFIX}/n-01/telemetry"
    for mid, reading in enumerate((noise(t, 1), noise(t, 1)), start=1):  # a duplicate
        pipeline.accept(topic, orjson.dumps(reading), mid, now)
    pipeline.tick(now)  # its accounting
    pipeline.accept(topic, orjson.dumps(noise(t + 60_000, 5)), 3, now)  # 2, 3, 4 lost
    pipeline.tick(now)  # the gap's, in the same millisecond
    pipeline.finish(now)  # a stop's, in it too
    lines = [line for b in batches for line in b.lines if line.startswith("device,")]
    points = [(line.rsplit(" ", 2)[1], int(line.rsplit(" ", 1)[1])) for line in lines]
    assert points == [
        ("seq_gaps=0i,duplicates=1i", now),
        ("seq_gaps=3i,duplicates=0i", now + 1),
    ]
