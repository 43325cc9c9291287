"""An ingest worker that gains a partition with a backlog of many batches stores it whole.

The writer's thread waits for the worker's event loop to publish each stored batch by site
(CONTRACT §12: handed on before the checkpoint moves), so that loop must never hand the
writer a batch its full queue has no room for: it would block, and with it the publish the
writer waits for, for good. Here the backlog is ten batches long (50 readings, a batch of 5, a
queue of 4), read in one fetch.
"""

from __future__ import annotations

from linli.clustering import IngestWorker
from tests.cluster.test_cluster_e2e import SCENARIO, TOTAL, Running, stored_count
from tests.helpers import Publisher, wait_for


def test_a_backlog_of_many_batches_is_stored_whole(small_cluster, nats_servers, nats_name):
    world = small_cluster(1, batch_max_readings=5)
    # the backlog first, a message a reading: the worker's first fetch reads all of it
    pub = Publisher(nats_servers.nodes[0].mqtt_url, f"pub-{nats_name}")
    for sensor, readings in SCENARIO:
        for reading in readings:
            pub.send(f"{world.prefix}/{sensor}/telemetry", reading)
    pub.close()
    assert TOTAL == 10 * 5
    worker = Running(IngestWorker(world.settings, None, member="ingest-0"))
    try:
        wait_for(lambda: stored_count(world.influx) == TOTAL)
    finally:
        worker.stop()
    assert not worker.alive()  # it stopped: nothing left blocked
