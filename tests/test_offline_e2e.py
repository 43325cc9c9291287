"""Through MQTT: a device's last will opens `device_offline` at once; coming back closes it."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.engine.engine import Engine
from linli.rules.events import RuleId
from linli.rules.judge import SensorState, judge_status
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Sensor, Site, SiteKind, Zone
from linli.store import Database, GridRecord, SiteRecord
from tests.helpers import WAIT_S, Publisher, noise, settings_for, wait_for

MIN = 60_000
# Silence alone never makes the sensor offline here: only the will does.
POLICY = RulePolicy(offline_periods=100_000)


def cases(db: Database) -> list[tuple[str, str, str]]:
    with db.cases() as tx:
        found, _ = tx.list_cases()
    return sorted((c.site, c.rule, c.state.value) for c in found)


@pytest.mark.parametrize("back_by", ["status", "readings"])
def test_last_will_opens_device_offline_at_once_and_return_closes_it(
    back_by, mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db = Database(settings.db_url)
    db.create_grid(GridRecord("g1", "红街一网格"))
    db.create_site(SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_sensor(Sensor("n-01", SensorKind.NOISE, "hj-b1"))
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    engine = Engine(db, POLICY, tick_s=3600).start()  # no tick: the will alone must do it
    ingest = Ingest(settings, db, db, influx, on_stored=engine.submit)
    ingest.start(wait_subscribed_s=WAIT_S)
    p = topic_prefix
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    device = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{p.split('/')[0]}")
    device.will_set(f"{p}/n-01/status", b'{"online": false}', qos=1, retain=True)
    device.connect(host, int(port), keepalive=1)
    device.loop_start()
    now = int(time.time() * 1000)
    try:
        device.publish(
            f"{p}/n-01/status", b'{"online": true, "ts": %d}' % (now - 10 * MIN), 1, True
        ).wait_for_publish(WAIT_S)
        for seq in range(1, 4):
            info = device.publish(
                f"{p}/n-01/telemetry", orjson.dumps(noise(now - (10 - seq) * MIN, seq, 45.0)), 1
            )
            info.wait_for_publish(WAIT_S)
        wait_for(lambda: engine.judged == 4)
        assert cases(db) == []
        device.loop_stop()
        sock = device.socket()
        assert sock is not None
        sock.close()  # no DISCONNECT: the broker publishes the will
        wait_for(lambda: cases(db) == [("hj-b1", "device_offline", "open")])
        with db.cases() as tx:
            (case,), _ = tx.list_cases()
            assert case.id is not None
            (ev,) = tx.detail(case.id).evidence
        assert ev.summary.startswith("status offline: the last will")
        pub = Publisher(mqtt_url, f"pub-{p.split('/')[0]}")
        try:
            if back_by == "status":
                pub.send(f"{p}/n-01/status", {"online": True, "ts": now})
            else:
                pub.send(f"{p}/n-01/telemetry", {"batch": [noise(now - MIN, 4, 45.0)]})
            wait_for(lambda: cases(db) == [("hj-b1", "device_offline", "closed")])
        finally:
            pub.close()
    finally:
        ingest.stop()
        engine.stop()
        db.close()
        influx.close()


def test_a_retained_old_online_status_does_not_end_an_offline_fault() -> None:
    site = Site("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1")
    last = Reading("n-01", SensorKind.NOISE, 10 * MIN, 9, 60, {"laeq": 45.0})
    state = SensorState("n-01", recent=(last,), last_seen_ms=10 * MIN, watermark_ms=10 * MIN)
    offline, events = judge_status(POLICY, site, state, DeviceStatus("n-01", 11 * MIN, False), 0)
    assert RuleId.DEVICE_OFFLINE in offline.faults and len(events) == 1
    stale, events = judge_status(POLICY, site, offline, DeviceStatus("n-01", MIN, True), 0)
    assert (stale, events) == (offline, [])
    back, events = judge_status(POLICY, site, offline, DeviceStatus("n-01", 12 * MIN, True), 0)
    assert RuleId.DEVICE_OFFLINE not in back.faults
    assert [e.signal.value for e in events] == ["recover"]
