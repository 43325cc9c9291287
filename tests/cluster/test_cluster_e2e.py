"""Two ingest and two engine workers on the 3-node cluster judge a published day as one
linli does: every reading stored once, the same cases, each opened once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from linli.clustering import EngineWorker, IngestWorker, layout_of, nats_setup
from linli.influx.client import InfluxClient
from linli.settings import Settings
from linli.store import Database
from tests.helpers import Publisher, settings_for, wait_for
from tests.test_cases_e2e import FUME, NIGHT, NO_PURIFIER, fill
from tests.test_replay_e2e import summary

SCENARIO = [("n-01", NIGHT), ("f-01", FUME), ("f-02", NO_PURIFIER)]
TOTAL = sum(len(r) for _, r in SCENARIO)


class Running:
    """A worker's `run` in a thread with its own event loop, stoppable."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            await self.worker.run(self._stop)

        self._loop.run_until_complete(main())

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        wait_for(lambda: self._stop is not None)
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)


def worker_pairs(settings: Settings, spools: Path, pairs: int) -> list[Running]:
    """`pairs` ingest workers (each with a spool folder of its own under `spools`) and as
    many engine workers, running in this process: ingest-0, engine-0, ingest-1, …"""
    workers = []
    for i in range(pairs):
        own = settings.model_copy(update={"spool_dir": spools / f"spool-{i}"})
        workers.append(Running(IngestWorker(own, None, member=f"ingest-{i}")))
        workers.append(Running(EngineWorker(settings, None, member=f"engine-{i}")))
    return workers


def stored_count(influx: InfluxClient) -> int:
    n = 0
    for series in influx.query('SELECT count("period_s") FROM "noise", "fume"'):
        n += int(series.values[0][1])
    return n


def publish(mqtt_url: str, prefix: str, name: str) -> None:
    pub = Publisher(mqtt_url, f"pub-{name}")
    for sensor, readings in SCENARIO:
        pub.send(f"{prefix}/{sensor}/telemetry", {"batch": readings})
    pub.close()


def single_cases(
    mqtt_url: str, influx_url: str, influx_db: str, prefix: str, tmp_path: Path, name: str
) -> list[tuple[Any, ...]]:
    """The cases one linli on mosquitto opens for SCENARIO (`summary`), to compare with."""
    from tests.test_cases_e2e import Linli

    single = settings_for(mqtt_url, influx_url, influx_db, prefix, tmp_path / "single")
    (tmp_path / "single").mkdir()
    db = Database(single.db_url)
    fill(db)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    one = Linli(single, influx, None)
    publish(mqtt_url, prefix, f"{name}-1")
    wait_for(lambda: one.engine.judged == TOTAL)
    one.stop()
    expected = sorted(summary(db))
    db.close()
    assert expected  # the scenario opens cases
    return expected


def test_two_ingest_and_two_engine_workers_judge_as_one_linli(
    nats_servers, nats_name, mqtt_url, influx_url, influx_db, tmp_path: Path
):
    prefix = f"{nats_name}/v1"
    expected = single_cases(mqtt_url, influx_url, influx_db, prefix, tmp_path, nats_name)

    # the cluster's run, on its own store and database
    cdb = f"{influx_db}_c"
    (tmp_path / "cluster").mkdir()
    settings = settings_for(
        nats_servers.nodes[0].mqtt_url,
        influx_url,
        cdb,
        prefix,
        tmp_path / "cluster",
        nats_url=nats_servers.url,
        nats_name=nats_name,
        nats_partitions=4,
        nats_member_ttl_s=2.0,
    )
    db = Database(settings.db_url)
    fill(db)
    cinflux = InfluxClient(influx_url, cdb)
    cinflux.ensure_database("400d")
    assert nats_setup(settings) == 0
    workers = worker_pairs(settings, tmp_path / "cluster", 2)
    try:
        engines = [w.worker for w in workers if isinstance(w.worker, EngineWorker)]
        wait_for(lambda: sum(len(e.engine.claims()) for e in engines) == 4)
        publish(nats_servers.nodes[1].mqtt_url, prefix, f"{nats_name}-2")
        wait_for(lambda: stored_count(cinflux) == TOTAL)
        wait_for(lambda: sum(e.engine.judged for e in engines) >= TOTAL)
        # the partitions' engines open their cases in their own order: compared as sets
        wait_for(lambda: sorted(summary(db)) == expected)
    finally:
        for w in workers:
            w.stop()
        cinflux.query(f'DROP DATABASE "{cdb}"')
    assert sorted(summary(db)) == expected  # each opened once: one occurrence, one entry
    assert layout_of(settings).partitions == 4
