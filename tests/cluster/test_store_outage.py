"""The case store (PostgreSQL) down under a running cluster (CONTRACT §12): the engine stops
acknowledging, the streams keep the backlog, it catches up after.

Two ingest and two engine workers (in this process) on a PostgreSQL of this test's own
judge the first part of test_cluster_e2e's scenario; PostgreSQL is stopped and the rest
published. While it is down the readings are stored in InfluxDB and handed on, but no
checkpoint moves and nothing past the checkpoints is acknowledged (JetStream's consumers
say so), nothing more is judged, the workers run on, and each says once, in one line,
that the case store does not answer (no traceback at each beat, tick or retry). Then
PostgreSQL starts again with its data: every partition catches up to its stream's end,
every reading is in InfluxDB and in the stored stream once, and the cases are those of
one linli given the whole scenario, each opened once.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import nats
import pytest

from linli.cluster.status import Status, read_status
from linli.clustering import EngineWorker, IngestWorker, layout_of, nats_setup, servers_of
from linli.influx.client import InfluxClient
from linli.settings import Settings
from linli.store import Database
from linli.store import partitions as checkpoints
from tests.cluster.test_cluster_e2e import SCENARIO, TOTAL, stored_count, worker_pairs
from tests.helpers import Publisher, settings_for, wait_for
from tests.pg import Postgres
from tests.test_cases_e2e import Linli, fill
from tests.test_replay_e2e import summary

pytestmark = pytest.mark.slow

PARTITIONS = 4
# the scenario cut in two: the night's noise before its breach opens (the 8th reading) and
# after, each kitchen's fume halfway
CUT = {"n-01": 6, "f-01": 7, "f-02": 7}
BEFORE = [(sensor, readings[: CUT[sensor]]) for sensor, readings in SCENARIO]
AFTER = [(sensor, readings[CUT[sensor] :]) for sensor, readings in SCENARIO]
DOWN = "the case store does not answer"
BACK = "the case store answers again"


def send(mqtt_url: str, prefix: str, client_id: str, part: Sequence[tuple[str, Any]]) -> None:
    pub = Publisher(mqtt_url, client_id)
    for sensor, readings in part:
        pub.send(f"{prefix}/{sensor}/telemetry", {"batch": readings})
    pub.close()


@pytest.fixture
def pg() -> Iterator[Postgres]:
    """A PostgreSQL of this test's own (it is stopped and started again)."""
    root = Path(tempfile.mkdtemp(prefix="linli-pg-"))  # pytest's tmp is private to root
    server = Postgres(root / "cluster").start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def expected_cases(mqtt_url: str, influx_url: str, influx_db: str, prefix: str, tmp: Path) -> list:
    """The cases of one linli given the scenario in the same two parts, with no outage."""
    single = settings_for(mqtt_url, influx_url, influx_db, prefix, tmp)
    tmp.mkdir()
    db = Database(single.db_url)
    fill(db)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    one = Linli(single, influx, None)
    name = prefix.split("/")[0]
    send(mqtt_url, prefix, f"{name}-single-1", BEFORE)
    wait_for(lambda: one.engine.judged == sum(len(r) for _, r in BEFORE))
    send(mqtt_url, prefix, f"{name}-single-2", AFTER)
    wait_for(lambda: one.engine.judged == TOTAL)
    one.stop()
    try:
        return sorted(summary(db))
    finally:
        db.close()
        influx.close()


def jetstream(settings: Settings, marks: dict[tuple[str, int], tuple[str | None, int]]) -> Any:
    """`linli nats status`'s view with these checkpoints, and every partition reader's
    acknowledged floor: `(status, {(stream, part): [ack floor of each consumer]})`."""
    layout = layout_of(settings)

    async def run() -> tuple[Status, dict[tuple[str, int], list[int]]]:
        nc = await nats.connect(servers_of(settings))
        try:
            js = nc.jetstream()
            status = await read_status(js, layout, marks)
            floors: dict[tuple[str, int], list[int]] = {}
            for stream, filter_of in (
                (layout.readings_stream, layout.readings_filter),
                (layout.stored_stream, layout.stored_filter),
            ):
                parts = {filter_of(p): p for p in range(layout.partitions)}
                for info in await js.consumers_info(stream):
                    part = parts[info.config.filter_subject or ""]
                    floor = info.ack_floor.stream_seq if info.ack_floor else 0
                    floors.setdefault((stream, part), []).append(floor or 0)
            return status, floors
        finally:
            await nc.close()

    return asyncio.run(run())


def stream_messages(settings: Settings, stream: str) -> int:
    async def run() -> int:
        nc = await nats.connect(servers_of(settings))
        try:
            return (await nc.jetstream().stream_info(stream)).state.messages
        finally:
            await nc.close()

    return asyncio.run(run())


def said(caplog: pytest.LogCaptureFixture, text: str, since: int = 0) -> list[str]:
    return [r.getMessage() for r in caplog.records[since:] if text in r.getMessage()]


def test_the_case_store_down_holds_the_backlog_and_catches_up(
    pg: Postgres,
    nats_servers,
    nats_name: str,
    mqtt_url: str,
    influx_url: str,
    influx_db: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.WARNING)
    prefix = f"{nats_name}/v1"
    expected = expected_cases(mqtt_url, influx_url, influx_db, prefix, tmp_path / "single")
    assert expected  # the scenario opens cases

    # the cluster on this test's PostgreSQL
    cdb = f"{influx_db}_c"
    settings = settings_for(
        nats_servers.nodes[0].mqtt_url, influx_url, cdb, prefix, tmp_path,
        db_url=pg.create_db("linli"), nats_url=nats_servers.url, nats_name=nats_name,
        nats_partitions=PARTITIONS, nats_member_ttl_s=2.0, engine_tick_s=0.5,
    )  # fmt: skip
    layout = layout_of(settings)
    db = Database(settings.db_url)
    fill(db)
    influx = InfluxClient(influx_url, cdb)
    influx.ensure_database("400d")
    assert nats_setup(settings) == 0
    # the scenario's kitchens cooked yesterday at noon and 18:00, more than a day ago in
    # the evening: a partition taken again after the outage refills their windows from
    # before the day's replay horizon (Engine.replay)
    workers = worker_pairs(settings, tmp_path, 2)
    engines = [w.worker for w in workers if isinstance(w.worker, EngineWorker)]
    ingests = [w.worker for w in workers if isinstance(w.worker, IngestWorker)]
    pg_stopped = False
    try:
        wait_for(lambda: sum(len(e.engine.claims()) for e in engines) == PARTITIONS)
        wait_for(lambda: sum(len(i.held()) for i in ingests) == PARTITIONS)

        # 1. the first part stored, judged and acknowledged: every checkpoint at its end
        send(nats_servers.nodes[1].mqtt_url, prefix, f"{nats_name}-1", BEFORE)
        first = sum(len(r) for _, r in BEFORE)
        wait_for(lambda: stored_count(influx) == first)
        wait_for(
            lambda: not [r for r in jetstream(settings, checkpoints.checkpoints(db))[0].partitions if r.behind]
        )  # fmt: skip
        marks = checkpoints.checkpoints(db)
        judged = sum(e.engine.judged for e in engines)
        assert judged == first

        # 2. PostgreSQL down; the rest published
        outage_from = len(caplog.records)
        db.close()
        pg.stop()
        pg_stopped = True
        send(nats_servers.nodes[2].mqtt_url, prefix, f"{nats_name}-2", AFTER)
        # ingest stores them and hands them on all the same
        wait_for(lambda: stored_count(influx) == TOTAL)
        wait_for(lambda: stream_messages(settings, layout.stored_stream) == TOTAL)
        # every worker saw the store down, and went on trying a while (beats, ticks)
        wait_for(lambda: all(w.worker.outage.failures >= 5 for w in workers))

        status, floors = jetstream(settings, marks)
        behind = {(r.stream, r.part) for r in status.partitions if r.behind}
        # the stored readings wait in the stored stream past the engines' checkpoints,
        # the readings in the readings stream past ingest's
        assert {s for s, _ in behind} == {layout.readings_stream, layout.stored_stream}
        assert stream_messages(settings, layout.stored_stream) == TOTAL
        for key, acked in floors.items():  # nothing past a checkpoint acknowledged
            assert max(acked) <= marks.get(key, (None, 0))[1], (key, acked, marks)
        assert sum(e.engine.judged for e in engines) == judged  # nothing more committed
        assert all(w.alive() for w in workers)
        for w in workers:  # one line each, said once; no traceback at each beat or tick
            assert len(said(caplog, f"{w.worker.member}: {DOWN}", outage_from)) == 1
        tracebacks = [r for r in caplog.records[outage_from:] if r.exc_info]
        assert not tracebacks, [r.getMessage() for r in tracebacks]
        back_from = len(caplog.records)

        # 3. PostgreSQL back with its data: everything judged, each case opened once
        pg.start()
        pg_stopped = False
        db = Database(settings.db_url)
        wait_for(
            lambda: not [r for r in jetstream(settings, checkpoints.checkpoints(db))[0].partitions if r.behind]
        )  # fmt: skip
        assert sorted(summary(db)) == expected  # committed with the checkpoints
        assert stored_count(influx) == TOTAL  # each reading once
        for member in (w.worker.member for w in workers):
            wait_for(partial(said, caplog, f"{member}: {BACK}", back_from))
        assert all(w.alive() for w in workers)
    finally:
        if pg_stopped:
            pg.start()
        for w in workers:
            w.stop()
        influx.query(f'DROP DATABASE "{cdb}"')
        influx.close()
    assert sorted(summary(db)) == expected  # each opened once: one occurrence, one entry
    assert stream_messages(settings, layout.stored_stream) == TOTAL  # handed on once
    db.close()
