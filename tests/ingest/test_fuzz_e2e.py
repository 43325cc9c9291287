"""10,000 adversarial messages through MQTT, mixed with valid readings.

linli stays alive, stores exactly the valid readings once, and keeps a rejected record
for every rejection the parser decides: none lost, none doubled.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from bench.adversarial import expected, mixed
from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.parse import parse_message
from linli.store import Database
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"
ADVERSARIAL = 10_000
VALID = 600


def test_ten_thousand_adversarial_messages_amid_valid_readings(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db = Database(settings.db_url)
    apply_community(db, load_community(CONFIG))
    registry = db.load_registry()
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    rng = random.Random(12)
    now = int(time.time() * 1000)
    p = topic_prefix
    messages, bad = mixed(rng, p, now, ADVERSARIAL, VALID)
    for topic, payload in bad:  # none is a valid reading
        assert parse_message(topic, payload, now, registry, p).readings == [], payload[:100]
    expected_rejections = expected(bad, registry, p, now)[1]
    assert expected(messages, registry, p, now) == (VALID, expected_rejections)
    ingest = Ingest(settings, db, db, influx).start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-fuzz-{topic_prefix.split('/')[0]}")
    try:
        pub.send_many(messages)
        wait_for(lambda: ingest.source.acked == len(messages), timeout_s=120)
        wait_for(lambda: count(influx, "noise", "laeq") == VALID)
        counts = db.rejection_counts()
        assert sum(c.count for c in counts) == expected_rejections
        assert sum(c.evicted for c in counts) == 0
        assert expected_rejections >= ADVERSARIAL
        # linli goes on: one more reading is stored, and nothing was doubled meanwhile
        pub.send(f"{p}/n-01/telemetry", noise(now - 1000, 10**6))
        wait_for(lambda: ingest.source.acked == len(messages) + 1)
        wait_for(lambda: count(influx, "noise", "laeq") == VALID + 1)
        time.sleep(1)
        assert count(influx, "noise", "laeq") == VALID + 1
        assert sum(c.count for c in db.rejection_counts()) == expected_rejections
    finally:
        pub.close()
        ingest.stop()
        influx.close()
        db.close()
