"""`linli nats status` (docs/cluster.md, "What to watch"): each role's members and the
partitions they hold, the backlog in `$MQTT_msgs`, and each partition's last message
beside its checkpoint; exit 1 when a partition has messages nobody reads."""

from __future__ import annotations

import os
import subprocess
import sys

from linli.clustering import EngineWorker, IngestWorker
from tests.cluster.test_cluster_e2e import SCENARIO, TOTAL, Running, stored_count
from tests.helpers import WAIT_S, Publisher, wait_for


def status(settings, nats_url: str) -> subprocess.CompletedProcess[str]:
    """`linli nats status` as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env |= {
        "LINLI_DB_URL": settings.db_url,
        "LINLI_NATS_URL": nats_url,
        "LINLI_NATS_NAME": settings.nats_name,
        "LINLI_NATS_PARTITIONS": str(settings.nats_partitions),
        "LINLI_TOPIC_PREFIX": settings.topic_prefix,
    }
    cmd = [sys.executable, "-m", "linli", "nats", "status"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WAIT_S)


def test_status_shows_each_partitions_holder_and_a_partition_nobody_reads(
    small_cluster, nats_servers, nats_name
):
    world = small_cluster(2)
    settings, influx, prefix = world.settings, world.influx, world.prefix
    readings = sorted((r["ts"], sensor, r) for sensor, rs in SCENARIO for r in rs)
    first, later = readings[: TOTAL // 2], readings[TOTAL // 2 :]
    pub = Publisher(nats_servers.nodes[0].mqtt_url, f"pub-{nats_name}")
    ingest = Running(IngestWorker(settings, None, member="ingest-0"))
    engine = Running(EngineWorker(settings, None, member="engine-0"))
    try:
        for _, sensor, r in first:
            pub.send(f"{prefix}/{sensor}/telemetry", r)
        wait_for(lambda: stored_count(influx) == len(first))
        # both workers hold both partitions of their stream, and have read them to the end
        # (asked until the workers' entries are in the bucket and their checkpoints at the
        # end: a beat late on a loaded machine lets an entry lapse for a moment)
        holding = (
            "ingest members: 1\n  ingest-0: partitions [0, 1]\n"
            "engine members: 1\n  engine-0: partitions [0, 1]\n"
        )
        done = wait_for(lambda: (s := status(settings, nats_servers.url)).returncode == 0
                        and s.stdout.startswith(holding) and _caught_up(s.stdout) and s)  # fmt: skip
        out = done.stdout
        print(out)  # in the log of a failure
        assert "STUCK" not in out
        assert "readings waiting in $MQTT_msgs: 0 (" in out, out
        # the ingest worker leaves; what comes now is behind, and nobody reads it
        ingest.stop()
        for _, sensor, r in later:
            pub.send(f"{prefix}/{sensor}/telemetry", r)
        # (once the readings stream has them: sourced from $MQTT_msgs after the PUBACK)
        late = wait_for(lambda: (s := status(settings, nats_servers.url)).returncode == 1 and s)
        assert "ingest members: 0" in late.stdout
        stuck = [line for line in late.stdout.splitlines() if "STUCK" in line]
        assert stuck and all("_READINGS" in line for line in stuck)
    finally:
        pub.close()
        ingest.stop()
        engine.stop()


def _caught_up(out: str) -> bool:
    """Every partition row's checkpoint at its last seq."""
    rows = [line.split() for line in out.splitlines()]
    rows = [row for row in rows if row and row[0].endswith(("_READINGS", "_STORED"))]
    return len(rows) == 4 and all(row[2] == row[3] for row in rows)
