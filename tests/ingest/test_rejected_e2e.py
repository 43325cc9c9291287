"""Every contract reason code, published through MQTT, kept and listed by /api/v1/rejected;
good data keeps flowing afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.constants import F_COUNT, M_REJECTED, TAG_REASON, TAG_SENSOR, UNREGISTERED_SENSOR
from linli.store import Database
from linli.wiring import api_config
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"


def test_every_reason_code_is_kept_and_listed(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, admin_token="t-admin-token-0123"
    )
    db = Database(settings.db_url)
    apply_community(db, load_community(CONFIG))
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    ingest = Ingest(settings, db, db, influx).start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-rej-{topic_prefix.split('/')[0]}")
    now = int(time.time() * 1000)
    p = topic_prefix
    bad = [
        (f"{p}/n-01/telemtry", orjson.dumps(noise(now, 1)), "bad_topic"),
        (f"{p}/n-01/telemetry", b"\x00\x01 not json", "not_json"),
        (f"{p}/n-01/telemetry", b'{"pad": "' + b"x" * 300_000 + b'"}', "too_large"),
        (f"{p}/n-01/telemetry", orjson.dumps({"ts": now, "seq": "one"}), "schema"),
        (f"{p}/n-77/telemetry", orjson.dumps(noise(now, 1)), "unknown_sensor"),
        (
            f"{p}/n-01/telemetry",
            orjson.dumps(
                {"ts": now, "seq": 1, "period_s": 60, "metrics": {"laeq": 50, "oil_fume": 1.2}}
            ),
            "kind_mismatch",
        ),
        (f"{p}/n-01/telemetry", orjson.dumps(noise(now, 1, 171.2)), "out_of_range"),
        (f"{p}/n-01/telemetry", orjson.dumps(noise(now, 1, 80.0, lamax=70.0)), "inconsistent"),
        (f"{p}/n-01/telemetry", orjson.dumps(noise(now - 8 * 86_400_000, 1)), "ts_out_of_range"),
    ]
    batch = {"batch": [noise(now - 2000, 10), noise(now - 1000, 11, 999.0), noise(now, 12)]}
    try:
        for topic, payload, _ in bad:
            pub.send(topic, payload)
        pub.send(f"{p}/n-02/telemetry", orjson.dumps(batch))
        for seq in range(5):  # the service keeps taking good data
            pub.send(f"{p}/n-03/telemetry", noise(now - 5000 + seq * 1000, seq))
        wait_for(lambda: ingest.source.acked == len(bad) + 6)
        api = TestClient(create_app(api_config(settings), db, influx, lambda: True))
        auth = {"Authorization": "Bearer t-admin-token-0123"}
        listed = api.get("/api/v1/rejected", params={"limit": 100}, headers=auth).json()
        items = listed["items"]
        reasons = sorted(item["reason"] for item in items)
        assert reasons == sorted([r for *_, r in bad] + ["out_of_range"])
        batch_reject = next(i for i in items if i["sensor"] == "n-02")
        assert batch_reject["index"] == 1
        assert "laeq 999.0 outside 20–140" in batch_reject["detail"]
        too_large_item = next(i for i in items if i["reason"] == "too_large")
        heads = {m["id"]: m for m in listed["messages"]}
        assert len(heads) == len({i["message"] for i in items})  # each message once
        too_large = heads[too_large_item["message"]]
        assert (too_large["payload_size"], too_large["payload_truncated"]) == (300_011, True)
        assert len(too_large["payload"]) == 64 * 1024
        counts = api.get("/api/v1/rejected/counts", headers=auth).json()
        n01 = {r["reason"]: r["count"] for r in counts if r["sensor"] == "n-01"}
        assert n01 == {
            "not_json": 1,
            "too_large": 1,
            "schema": 1,
            "kind_mismatch": 1,
            "out_of_range": 1,
            "inconsistent": 1,
            "ts_out_of_range": 1,
        }
        assert [r["count"] for r in counts if r["reason"] == "bad_topic"] == [1]
        wait_for(lambda: count(influx, "noise", "laeq") == 7)
        assert count(influx, "noise", "laeq", "WHERE sensor = 'n-03'") == 5
        assert count(influx, "noise", "laeq", "WHERE sensor = 'n-02'") == 2
        # ... and counted in InfluxDB per sensor and reason for the Devices dashboard; a
        # topic naming no registered sensor counts under one fixed tag value
        rows = influx.query(
            f'SELECT sum("{F_COUNT}") FROM "{M_REJECTED}" GROUP BY "{TAG_SENSOR}", "{TAG_REASON}"'
        )
        stored = {(s.tags[TAG_SENSOR], s.tags[TAG_REASON]): s.values[0][1] for s in rows}
        assert stored == {
            **{("n-01", r): 1 for *_, r in bad[1:4] + bad[5:]},
            ("n-02", "out_of_range"): 1,
            (UNREGISTERED_SENSOR, "bad_topic"): 1,
            (UNREGISTERED_SENSOR, "unknown_sensor"): 1,
        }
    finally:
        pub.close()
        ingest.stop()
