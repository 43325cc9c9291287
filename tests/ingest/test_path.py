"""The data path on real servers: publish → parse → InfluxDB with tags, rejects kept."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from linli.ingest.influx import InfluxClient
from linli.ingest.memory import MemoryStore
from linli.ingestion import Ingest
from tests.helpers import Publisher, noise, settings_for, small_registry, wait_for


@pytest.fixture
def path(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx).start(wait_subscribed_s=10)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    yield settings, influx, store, ingest, pub
    pub.close()
    ingest.stop()
    influx.close()


def test_reading_is_stored_with_tags_and_once(path):
    settings, influx, store, ingest, pub = path
    now = int(time.time() * 1000)
    reading = noise(now, 7, 58.3, lamax=71.2, lamin=44.0, l10=61.0, l50=56.2, l90=49.8)
    topic = f"{settings.topic_prefix}/n-01/telemetry"
    pub.send(topic, reading)
    pub.send(topic, reading)
    wait_for(lambda: ingest.pipeline.stats.messages == 2 and ingest.source.acked == 2)
    series = influx.query('SELECT * FROM "noise"')
    assert len(series) == 1
    row = dict(zip(series[0].columns, series[0].values[0], strict=True))
    assert len(series[0].values) == 1
    assert row == {
        "time": now,
        "grid": "g1",
        "l10": 61.0,
        "l50": 56.2,
        "l90": 49.8,
        "laeq": 58.3,
        "lamax": 71.2,
        "lamin": 44.0,
        "period_s": 60,
        "seq": 7,
        "sensor": "n-01",
        "site": "hj-b1",
        "zone": "2",
    }
    assert ingest.pipeline.stats.duplicates == 1
    assert store.rejections == []
