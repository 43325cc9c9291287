"""10,000 adversarial messages through MQTT, mixed with valid readings (issue 12).

linli stays alive, stores exactly the valid readings once, and keeps a rejected record
for every rejection the parser decides: none lost, none doubled.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import orjson

from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.parse import parse_message
from linli.store import Database
from tests.helpers import Publisher, count, noise, settings_for, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"
ADVERSARIAL = 10_000
VALID = 600


def _adversarial(rng: random.Random, p: str, now: int) -> tuple[str, bytes]:
    """One message no part of which is a valid reading."""
    sensor = rng.choice(["n-01", "n-02", "n-03", "f-01", "n-77", "x"])
    topic = f"{p}/{sensor}/telemetry"
    good = noise(now - rng.randrange(1, 10**6), rng.randrange(10**6))
    choice = rng.randrange(12)
    if choice == 0:
        return topic, rng.randbytes(rng.randrange(0, 300))
    if choice == 1:
        return topic, orjson.dumps(good)[: rng.randrange(1, 40)]
    if choice == 2:
        return f"{p}/{sensor}/" + rng.choice(["telemetri", "", "status/x", "好"]), b"{}"
    if choice == 3:
        seq = rng.choice([b'"1"', b"null", b"-1", b"1180591620717411303424", b"1.5"])
        return topic, orjson.dumps({**good, "seq": 0}).replace(b'"seq":0', b'"seq":' + seq)
    if choice == 4:
        bad = rng.choice([171.2, -5.0, 1e308, "NaN", None, [1]])
        return topic, orjson.dumps({**good, "metrics": {"laeq": bad}})
    if choice == 5:
        return topic, b'{"ts": ' + rng.choice([b"NaN", b"Infinity", b"1e999", b"-0"]) + b"}"
    if choice == 6:
        return topic, b"[" * rng.randrange(1, 5000) + b"]" * rng.randrange(0, 5000)
    if choice == 7:
        return topic, orjson.dumps({**good, "ts": rng.choice([0, -1, 2**62, now + 10**9])})
    if choice == 8:
        items: list[Any] = [rng.choice([1, "x", None, {}, {"ts": "now"}]) for _ in range(20)]
        return topic, orjson.dumps({"batch": items})
    if choice == 9:
        return topic, orjson.dumps({"batch": [good] * 1001})  # over the batch limit
    if choice == 10:
        return topic, b'{"pad": "' + b"x" * rng.randrange(262_144, 300_000) + b'"}'
    return topic, orjson.dumps({**good, "period_s": rng.choice([0, -60, 10**9, "60"])})


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
    bad = [_adversarial(rng, p, now) for _ in range(ADVERSARIAL)]
    expected_rejections = 0
    for topic, payload in bad:
        parsed = parse_message(topic, payload, now, registry, p)
        assert parsed.readings == [], (topic, payload[:100])  # none is a valid reading
        expected_rejections += len(parsed.rejections)
    valid = [
        (f"{p}/n-0{1 + i % 3}/telemetry", orjson.dumps(noise(now - 3_600_000 + i * 1000, i)))
        for i in range(VALID)
    ]
    messages = bad + valid
    rng.shuffle(messages)
    ingest = Ingest(settings, db, db, influx).start(wait_subscribed_s=10)
    pub = Publisher(mqtt_url, f"pub-fuzz-{topic_prefix.split('/')[0]}")
    try:
        pub.send_many(messages)
        wait_for(lambda: ingest.source.acked == len(messages), timeout_s=120)
        wait_for(lambda: count(influx, "noise", "laeq") == VALID, timeout_s=30)
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
