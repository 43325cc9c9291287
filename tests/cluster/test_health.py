"""A device's health messages reach InfluxDB on a cluster as on one machine (CONTRACT §2):
QoS 0 ones, which NATS never keeps in `$MQTT_msgs`, through the ingest workers' queue
group; a QoS 1 one through its sensor's partition; each stored once, by one of two
workers."""

from __future__ import annotations

import time

import orjson

from linli.clustering import IngestWorker
from linli.influx.client import InfluxClient
from tests.cluster.test_cluster_e2e import Running
from tests.helpers import Publisher, wait_for


def test_health_at_qos_0_and_1_is_stored_once(small_cluster, nats_servers, nats_name):
    world = small_cluster(2)
    settings, influx, prefix = world.settings, world.influx, world.prefix
    workers = []
    for i in range(2):
        own = settings.model_copy(update={"spool_dir": settings.spool_dir / str(i)})
        workers.append(Running(IngestWorker(own, None, member=f"ingest-{i}")))
    now = int(time.time() * 1000)
    sent = {
        ("n-01", 0): {"ts": now - 3000, "battery_v": 3.9, "rssi_dbm": -71},
        ("f-01", 0): {"ts": now - 2000, "temp_c": 31.5, "uptime_s": 86400},
        ("n-02", 1): {"ts": now - 1000, "battery_v": 3.7},
    }
    pub = Publisher(nats_servers.nodes[1].mqtt_url, f"pub-{nats_name}")
    try:
        # every partition held: its holder subscribed to the health messages before it
        # took any (a QoS 0 message nobody is subscribed to is gone)
        wait_for(lambda: frozenset().union(*(w.worker.held() for w in workers)) == {0, 1})
        for (sensor, qos), body in sent.items():
            pub.send(f"{prefix}/{sensor}/health", orjson.dumps(body), qos=qos)
        wait_for(lambda: len(points(influx)) == 3)
        assert points(influx) == {
            ("n-01", now - 3000, 3.9, -71.0, None, None),
            ("f-01", now - 2000, None, None, 31.5, 86400),
            ("n-02", now - 1000, 3.7, None, None, None),
        }
        # the two QoS 0 ones taken from the queue group by one worker each, the QoS 1 one
        # not (an InfluxDB point written twice would look the same; a partition read again
        # from its checkpoint after a node's trouble may accept its message twice)
        assert sum(w.worker.health_messages for w in workers) == 2
    finally:
        pub.close()
        for w in workers:
            w.stop()


def points(influx: InfluxClient) -> set[tuple[object, ...]]:
    """The device measurement's health points: (sensor, ts, battery, rssi, temp, uptime)."""
    q = 'SELECT battery_v, rssi_dbm, temp_c, uptime_s, sensor FROM device GROUP BY "sensor"'
    out: set[tuple[object, ...]] = set()
    for series in influx.query(q):
        for ts, battery, rssi, temp, uptime, _ in series.values:
            if (battery, rssi, temp, uptime) != (None, None, None, None):
                out.add((series.tags["sensor"], ts, battery, rssi, temp, uptime))
    return out
