"""When the spool is full linli stops acknowledging and the broker holds the rest (CONTRACT §3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from linli.influx.client import InfluxClient
from linli.ingest.memory import MemoryStore
from linli.ingest.spool import Spool, SpoolFull
from linli.ingestion import Ingest
from linli.localservers import influxd
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, small_registry, wait_for


def test_full_spool_stops_acknowledging_until_influx_returns(
    mqtt_url, topic_prefix, tmp_path: Path
):
    server = influxd(tmp_path / "influxd").start()
    url = f"http://127.0.0.1:{server.port}"
    influx = InfluxClient(url, "held", timeout_s=1)
    influx.ensure_database("400d")
    settings = settings_for(
        mqtt_url,
        url,
        "held",
        topic_prefix,
        tmp_path,
        spool_max_bytes=3000,
        batch_max_readings=10,
    )
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx, retry_s=0.1).start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-held-{topic_prefix.split('/')[0]}")
    now = int(time.time() * 1000) - 600_000
    try:
        server.kill()
        pub.send_many(
            (f"{topic_prefix}/n-01/telemetry", noise(now + i * 1000, i)) for i in range(300)
        )
        time.sleep(2)
        held = 300 - ingest.source.acked
        assert ingest.spool.size_bytes <= 3000
        assert held > 200, f"only {held} messages held back by the broker"
        server.start()
        wait_for(lambda: count(influx, "noise", "laeq") == 300)
        wait_for(lambda: ingest.source.acked == 300)
        assert ingest.spool.size_bytes == 0
    finally:
        pub.close()
        ingest.stop()
        server.stop()


def test_spool_keeps_whole_batches_in_order_and_refuses_past_its_limit(tmp_path: Path):
    spool = Spool(tmp_path, max_bytes=10)
    (tmp_path / "000000000099.tmp").write_bytes(b"half a batch")  # a crash mid-write
    first, second = spool.append(b"aaaa"), spool.append(b"bbbb")
    with pytest.raises(SpoolFull, match="limit 10"):
        spool.append(b"ccc")
    reopened = Spool(tmp_path, max_bytes=10)
    assert not list(tmp_path.glob("*.tmp"))
    assert reopened.size_bytes == 8 and len(reopened) == 2
    assert reopened.oldest() == (first, b"aaaa")
    reopened.remove(first)
    assert reopened.oldest() == (second, b"bbbb")
    assert reopened.append(b"cc").name == "000000000003.lp"
