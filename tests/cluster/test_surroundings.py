"""The cluster's workers when what surrounds them fails (CONTRACT §12): NATS not there yet
or not set up, NATS lost for a minute, streams set up for another partition count.

Workers wait and try again, each trouble told once in their log; nothing is acknowledged
that is not stored; `linli api`'s /health says NATS is gone while it is; a worker whose
partition count differs from the streams' refuses to start, saying why.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from linli.clustering import EngineWorker, IngestWorker, nats_setup
from linli.influx.client import InfluxClient
from linli.localservers import free_port
from linli.natsservers import NatsCluster, nats_cluster
from linli.store import Database
from tests.cluster.test_cluster_e2e import (
    SCENARIO,
    TOTAL,
    Running,
    publish,
    single_cases,
    stored_count,
)
from tests.cluster.test_faults import Worker, base_env
from tests.helpers import WAIT_S, Publisher, settings_for, wait_for
from tests.pg import Postgres
from tests.test_cases_e2e import fill
from tests.test_replay_e2e import summary

OUTAGE_S = 60.0  # "NATS lost for a minute"


def own_cluster(tmp_path: Path) -> NatsCluster:
    """A 3-node cluster of this test's own (it is stopped, and started late)."""
    return nats_cluster(tmp_path / "nats", name=f"c{free_port()}")


def test_workers_wait_for_nats_and_its_setup_then_work(
    influx_url, influx_db, nats_name, tmp_path: Path, caplog
):
    caplog.set_level(logging.INFO, logger="linli")
    cluster = own_cluster(tmp_path)  # configured, not started: nobody listens yet
    prefix = f"{nats_name}/v1"
    settings = settings_for(
        cluster.nodes[0].mqtt_url, influx_url, f"{influx_db}_w", prefix, tmp_path,
        nats_url=cluster.url, nats_name=nats_name, nats_partitions=2, nats_member_ttl_s=2.0,
    )  # fmt: skip
    db = Database(settings.db_url)
    fill(db)
    influx = InfluxClient(influx_url, settings.influx_db)
    influx.ensure_database("400d")

    def told(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records)

    ingest = Running(IngestWorker(settings, None, member="ingest-0"))
    engine = Running(EngineWorker(settings, None, member="engine-0"))
    try:
        wait_for(lambda: told("ingest-0: NATS unreachable") and told("engine-0: NATS unreachable"))
        cluster.start()
        # connected, and waiting for `linli nats setup`
        wait_for(lambda: told("ingest-0: no stream") and told("engine-0: no stream"))
        assert ingest.alive() and engine.alive()
        assert nats_setup(settings) == 0
        wait_for(lambda: ingest.worker.held() == {0, 1} and len(engine.worker.engine.claims()) == 2)
        publish(cluster.nodes[1].mqtt_url, prefix, nats_name)
        wait_for(lambda: stored_count(influx) == TOTAL)
        wait_for(lambda: engine.worker.engine.judged >= TOTAL)
        wait_for(lambda: summary(db) != [])
    finally:
        ingest.stop()
        engine.stop()
        cluster.stop()
        influx.query(f'DROP DATABASE "{settings.influx_db}"')
        influx.close()
    # each trouble told once, not at every attempt (nats-py tries every 2 s)
    for who in ("ingest-0", "engine-0"):
        assert told(f"{who}: NATS unreachable") == 1
        assert told(f"{who}: no stream") == 1
        assert told(f"{who}: connected to NATS") == 1
    assert all(c[3] == 1 for c in summary(db))  # each case's occurrence opened once
    db.close()


def test_a_worker_started_for_another_partition_count_refuses(small_cluster, nats_servers):
    world = small_cluster(4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DB_URL": world.settings.db_url,
        "LINLI_INFLUX_URL": world.settings.influx_url,
        "LINLI_INFLUX_DB": world.settings.influx_db,
        "LINLI_TOPIC_PREFIX": world.prefix,
        "LINLI_SPOOL_DIR": str(world.settings.spool_dir),
        "LINLI_NATS_URL": nats_servers.url,
        "LINLI_NATS_NAME": world.settings.nats_name,
        "LINLI_NATS_PARTITIONS": "8",
        "LINLI_NATS_MEMBER_TTL_S": "2",
    }
    for role in ("ingest", "engine"):
        done = subprocess.run(
            [sys.executable, "-m", "linli", role],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
        )
        assert done.returncode == 2, (role, done.stderr)
        assert "is set up for 4 partitions and LINLI_NATS_PARTITIONS is 8" in done.stderr, (
            role,
            done.stderr,
        )
        assert "Traceback" not in done.stderr


def health(url: str) -> tuple[int, bool]:
    """`linli api`'s /health: the status code and whether it counts the broker (NATS) up."""
    try:
        r = httpx.get(f"{url}/api/v1/health", timeout=10)
    except httpx.HTTPError:
        return 0, False
    return r.status_code, bool(r.json().get("broker", {}).get("ok"))


@pytest.mark.slow
def test_nats_lost_for_a_minute(
    mqtt_url, influx_url, influx_db, nats_name, postgres: Postgres, tmp_path: Path
):
    prefix = f"{nats_name}/v1"
    expected = single_cases(mqtt_url, influx_url, influx_db, prefix, tmp_path, nats_name)
    cluster = own_cluster(tmp_path).start()
    settings = settings_for(
        cluster.nodes[0].mqtt_url, influx_url, f"{influx_db}_o", prefix, tmp_path,
        nats_url=cluster.url, nats_name=nats_name, nats_partitions=2, nats_member_ttl_s=2.0,
    )  # fmt: skip
    db_url = postgres.create_db(f"{nats_name}_o")
    db = Database(db_url)
    fill(db)
    influx = InfluxClient(influx_url, settings.influx_db)
    influx.ensure_database("400d")
    env = {
        **base_env(settings, db_url),
        "LINLI_NATS_URL": cluster.url,
        "LINLI_NATS_NAME": nats_name,
        "LINLI_NATS_PARTITIONS": "2",
        "LINLI_NATS_MEMBER_TTL_S": "2",
    }
    api_addr = f"127.0.0.1:{free_port()}"
    workers = [
        Worker("ingest", ["ingest"], {**env, "LINLI_SPOOL_DIR": str(tmp_path / "spool-i")},
               tmp_path / "ingest.log"),
        Worker("engine", ["engine"], env, tmp_path / "engine.log"),
        Worker("api", ["api"], {**env, "LINLI_API_ADDR": api_addr,
                                "LINLI_SPOOL_DIR": str(tmp_path / "spool-a")},
               tmp_path / "api.log"),
    ]  # fmt: skip
    api = f"http://{api_addr}"
    readings = sorted((r["ts"], sensor, r) for sensor, rs in SCENARIO for r in rs)
    first, later = readings[: TOTAL // 2], readings[TOTAL // 2 :]
    assert nats_setup(settings) == 0
    for w in workers:
        w.start()
    try:
        wait_for(lambda: health(api) == (200, True))
        wait_for(lambda: "took partitions [0, 1]" in workers[0].text())
        wait_for(lambda: "took partitions [0, 1]" in workers[1].text())
        send(cluster, prefix, f"{nats_name}-1", first)
        wait_for(lambda: stored_count(influx) == len(first))

        for i in range(len(cluster.nodes)):  # every node gone at once
            cluster.kill(i)
        lost = time.monotonic()
        wait_for(lambda: health(api) == (503, False))
        wait_for(lambda: all("lost its connection to NATS" in w.text() for w in workers))
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - lost)))  # the outage's length
        assert all(w.proc is not None and w.proc.poll() is None for w in workers)
        assert stored_count(influx) == len(first)  # nothing came, nothing was made up
        cluster.start()

        wait_for(lambda: health(api) == (200, True))
        wait_for(lambda: all("back on NATS" in w.text() for w in workers))
        send(cluster, prefix, f"{nats_name}-2", later)
        wait_for(lambda: stored_count(influx) == TOTAL)
        wait_for(lambda: sorted(summary(db)) == expected)
    finally:
        for w in workers:
            w.stop()
        cluster.stop()
        influx.query(f'DROP DATABASE "{settings.influx_db}"')
        influx.close()
    for w in workers:
        # told once per node lost (a connection moves to the next node until none is
        # left), not at every attempt of the minute (nats-py tries every 2 s)
        text = w.text()
        assert 1 <= text.count("lost its connection to NATS") <= len(cluster.nodes), w.name
        assert text.count("back on NATS") == text.count("lost its connection to NATS")
        assert "Traceback" not in text, (w.name, text[-3000:])
    assert sorted(summary(db)) == expected  # each opened once: one occurrence, one entry
    db.close()


def send(cluster: NatsCluster, prefix: str, name: str, readings) -> None:
    """Each reading on its sensor's topic, at QoS 1, every PUBACK awaited."""
    pub = Publisher(cluster.nodes[1].mqtt_url, f"pub-{name}")
    for _, sensor, reading in readings:
        pub.send(f"{prefix}/{sensor}/telemetry", reading)
    pub.close()
