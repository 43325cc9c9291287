"""An ingest worker that gains a partition with a backlog of many batches stores it whole.

The writer's thread waits for the worker's event loop to publish each stored batch by site
(CONTRACT §12: handed on before the checkpoint moves), so that loop must never hand the
writer a batch its full queue has no room for: it would block, and with it the publish the
writer waits for, for good. Here the backlog is ten batches long (50 readings, a batch of 5, a
queue of 4), read in one fetch.
"""

from __future__ import annotations

from pathlib import Path

from linli.clustering import IngestWorker, nats_setup
from linli.influx.client import InfluxClient
from linli.store import Database
from tests.cluster.test_cluster_e2e import SCENARIO, TOTAL, Running, stored_count
from tests.helpers import Publisher, settings_for, wait_for
from tests.test_cases_e2e import fill


def test_a_backlog_of_many_batches_is_stored_whole(
    nats_servers, nats_name, influx_url, influx_db, tmp_path: Path
):
    prefix = f"{nats_name}/v1"
    db_name = f"{influx_db}_backlog"
    settings = settings_for(
        nats_servers.nodes[0].mqtt_url,
        influx_url,
        db_name,
        prefix,
        tmp_path,
        nats_url=nats_servers.url,
        nats_name=nats_name,
        nats_partitions=1,
        nats_member_ttl_s=2.0,
        batch_max_readings=5,
    )
    db = Database(settings.db_url)
    fill(db)
    influx = InfluxClient(influx_url, db_name)
    influx.ensure_database("400d")
    assert nats_setup(settings) == 0
    # the backlog first, a message a reading: the worker's first fetch reads all of it
    pub = Publisher(nats_servers.nodes[0].mqtt_url, f"pub-{nats_name}")
    for sensor, readings in SCENARIO:
        for reading in readings:
            pub.send(f"{prefix}/{sensor}/telemetry", reading)
    pub.close()
    assert TOTAL == 10 * 5
    worker = Running(IngestWorker(settings, None, member="ingest-0"))
    try:
        wait_for(lambda: stored_count(influx) == TOTAL)
    finally:
        worker.stop()
        influx.query(f'DROP DATABASE "{db_name}"')
        influx.close()
        db.close()
    assert not worker.alive()  # it stopped: nothing left blocked
