"""The data path on real servers: publish → parse → InfluxDB with tags, rejects kept."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from linli import service, wiring
from linli.influx.client import InfluxClient
from linli.ingest.memory import MemoryStore
from linli.ingestion import Ingest
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, small_registry, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"


@pytest.fixture
def path(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx).start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    yield settings, influx, store, ingest, pub
    pub.close()
    ingest.stop()
    influx.close()


def _last_local_noon_ms() -> int:
    """The most recent 12:00 in Asia/Shanghai (daytime: the zone-2 day limit of 60 applies)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > now:
        noon -= timedelta(days=1)
    return int(noon.timestamp() * 1000)


def test_reading_is_stored_with_tags_and_once(path):
    settings, influx, store, ingest, pub = path
    now = _last_local_noon_ms()
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
        "laeq_es": pytest.approx(10**5.83 * 60, rel=1e-12),
        "lamax": 71.2,
        "lamin": 44.0,
        "limit_db": 60,
        "exceed_s": 0,
        "hour_local": 11,  # stamped 12:00, it measured 11:59–12:00
        "period_s": 60,
        "seq": 7,
        "sensor": "n-01",
        "site": "hj-b1",
        "zone": "2",
    }
    assert ingest.pipeline.stats.duplicates == 1
    assert store.rejections == []


def test_limit_db_follows_the_community_files_night(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    # what `linli ingest --config FILE` does with a community that moved night to 23–07
    config = tmp_path / "community.toml"
    config.write_text(
        CONFIG.read_text(encoding="utf-8") + '\n[rules]\nnight = "23:00-07:00"\n', encoding="utf-8"
    )
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db = wiring.open_store(settings, config)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    policy = wiring.load_policy(settings, config)
    ingest = Ingest(settings, db, db, influx, policy=policy).start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-dn-{topic_prefix.split('/')[0]}")
    shanghai = ZoneInfo("Asia/Shanghai")
    evening = datetime.now(shanghai).replace(hour=22, minute=30, second=0, microsecond=0)
    evening -= timedelta(days=2)  # so that the next morning is past too
    local = [evening + timedelta(minutes=m) for m in (0, 30, 31, 8 * 60)]
    ts = [int(t.timestamp() * 1000) for t in local]  # 22:30, 23:00, 23:01, 06:30
    try:
        batch = [noise(t, seq, 55.0) for seq, t in enumerate(ts, start=1)]
        pub.send(f"{topic_prefix}/n-01/telemetry", {"batch": batch})
        wait_for(lambda: count(influx, "noise", "laeq") == 4)
        rows = influx.query('SELECT "limit_db", "exceed_s", "hour_local" FROM "noise"')[0].values
        assert rows == [
            [ts[0], 60, 0, 22],  # 22:29–22:30: still day in this community, zone 2 day limit 60
            [ts[1], 60, 0, 22],  # 22:59–23:00: the minute it measured is still day
            [ts[2], 50, 60, 23],  # 23:00–23:01: night, limit 50, 55 is over it
            [ts[3], 50, 60, 6],  # 06:29–06:30: still night
        ]
    finally:
        pub.close()
        ingest.stop()
        influx.close()


def test_status_will_health_and_seq_gaps_reach_the_device_measurement(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    store = MemoryStore(small_registry())
    ingest = Ingest(settings, store, store, influx, seq_grace_ms=0, account_every_ms=0)
    ingest.start(wait_subscribed_s=WAIT_S)
    now = int(time.time() * 1000)
    p = topic_prefix
    # a device with a last will, which then vanishes without DISCONNECT
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id="n-02")
    device.will_set(f"{p}/n-02/status", b'{"online": false}', qos=1, retain=True)
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    device.connect(host, int(port), keepalive=1)
    device.loop_start()
    device.publish(
        f"{p}/n-02/status", b'{"online": true, "fw": "1.4.2", "ts": %d}' % (now - 5000), 1, True
    ).wait_for_publish(WAIT_S)
    pub = Publisher(mqtt_url, f"pub-dev-{p.split('/')[0]}")
    try:
        pub.send(
            f"{p}/f-01/health",
            {
                "ts": now - 4000,
                "battery_v": 3.9,
                "rssi_dbm": -71,
                "temp_c": 31.5,
                "uptime_s": 86400,
            },
        )
        for seq in (1, 2, 5):  # 3 and 4 never arrive
            pub.send(f"{p}/n-01/telemetry", noise(now - 3000 + seq, seq))
        device.loop_stop()
        sock = device.socket()
        assert sock is not None
        sock.close()  # no DISCONNECT: the broker publishes the will after 1.5 × keepalive
        wait_for(lambda: count(influx, "device", "online") == 2)
        online = influx.query("SELECT online, fw FROM device WHERE sensor = 'n-02'")[0].values
        assert [row[1:] for row in online] == [[True, "1.4.2"], [False, None]]
        health = influx.query(
            "SELECT battery_v, rssi_dbm, temp_c, uptime_s, site FROM device WHERE sensor = 'f-01'"
        )[0].values
        assert health == [[now - 4000, 3.9, -71.0, 31.5, 86400, "rest-1"]]
        gaps = wait_for(
            lambda: influx.query("SELECT sum(seq_gaps) FROM device WHERE sensor = 'n-01'")
        )
        assert gaps[0].values[0][1] == 2
    finally:
        pub.close()
        ingest.stop()


def test_each_worker_spools_apart_and_a_spool_left_behind_is_named(tmp_path):
    # `linli ingest --workers N`: worker i spools in LINLI_SPOOL_DIR/worker-i; a later run
    # with fewer workers names the spools it does not replay
    assert service.worker_spool_dir(tmp_path, 3) == tmp_path / "worker-3"
    for index, name in ((0, "000000000001.lp"), (2, "000000000001.check"), (3, None)):
        folder = service.worker_spool_dir(tmp_path, index)
        (folder / "failed").mkdir(parents=True)
        if name:
            (folder / name).write_bytes(b"noise,sensor=n-01 laeq=50 1\n")
    (service.worker_spool_dir(tmp_path, 3) / "failed" / "000000000001.lp").write_bytes(b"x")
    assert service.spools_left_behind(tmp_path, 2) == [(tmp_path / "worker-2", 2)]
    assert service.spools_left_behind(tmp_path, 3) == []
    assert service.spools_left_behind(tmp_path, 1) == [(tmp_path / "worker-2", 2)]
