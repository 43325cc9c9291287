"""A broker restart loses nothing: linli reconnects to its persistent session (CONTRACT §3)."""

from __future__ import annotations

import time
from pathlib import Path

from linli.influx.client import InfluxClient
from linli.ingest.memory import MemoryStore
from linli.ingestion import Ingest
from linli.localservers import mosquitto
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, small_registry, wait_for


def test_broker_restart_and_messages_queued_while_linli_was_away(
    influx_url, influx_db, topic_prefix, tmp_path: Path
):
    broker = mosquitto(tmp_path / "mosquitto").start()
    url = f"mqtt://127.0.0.1:{broker.port}"
    settings = settings_for(url, influx_url, influx_db, topic_prefix, tmp_path)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    store = MemoryStore(small_registry())
    topic = f"{topic_prefix}/n-01/telemetry"
    base = int(time.time() * 1000) - 600_000
    ingest = Ingest(settings, store, store, influx).start(wait_subscribed_s=WAIT_S)
    try:
        pub = Publisher(url, "restart-pub-1")
        pub.send_many((topic, noise(base + i * 1000, i)) for i in range(100))
        pub.close()
        wait_for(lambda: ingest.source.acked == 100)
        broker.stop()  # a clean restart: mosquitto saves its sessions
        broker.start()
        pub = Publisher(url, "restart-pub-2")
        pub.send_many((topic, noise(base + i * 1000, i)) for i in range(100, 200))
        pub.close()
        wait_for(lambda: count(influx, "noise", "laeq") == 200)
        ingest.stop()  # linli away: the broker queues for its persistent session
        pub = Publisher(url, "restart-pub-3")
        pub.send_many((topic, noise(base + i * 1000, i)) for i in range(200, 300))
        pub.close()
        broker.stop()  # and the broker restarts while holding them
        broker.start()
        ingest = Ingest(settings, store, store, influx).start()
        wait_for(lambda: count(influx, "noise", "laeq") == 300)
        assert ingest.source.epoch == 1 and ingest.pipeline.stats.readings == 100
    finally:
        ingest.stop()
        broker.stop()
