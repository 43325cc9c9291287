"""The demo's HJ 212 monitors end to end: the Tianxin file's six restaurants' fume
monitors, three models (the standard's CRC, CRC-16/MODBUS, DataTime at the period's end),
simulated by `linli sim`'s own HJ 212 encoder, dial linli's listener over real TCP; every
upload is answered once stored, and stored as the reading the simulator meant."""

from __future__ import annotations

import time
from pathlib import Path

from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.sim.monitors import Hj212Fleet, MonitorOptions
from linli.sim.sensors import load_community as sim_sensors
from linli.sim.sensors import load_monitors
from linli.store import Database
from linli.wiring import hj212_monitors
from tests.helpers import WAIT_S, settings_for, wait_for

COMMUNITY = Path(__file__).resolve().parents[1] / "community" / "tianxin.toml"
RESTAURANTS = {"f-rest-01", "f-rest-03", "f-rest-04", "f-rest-05", "f-rest-08", "f-rest-09"}


def test_the_demo_s_fume_monitors_speak_hj212_to_linli(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    settings = settings.model_copy(update={"hj212_addr": "127.0.0.1:0"})
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    db = Database(f"sqlite:///{tmp_path}/linli.db")
    apply_community(db, load_community(COMMUNITY))
    ingest = Ingest(settings, db, db, influx, hj212=hj212_monitors(settings, db))
    ingest.start(wait_subscribed_s=WAIT_S)
    try:
        assert ingest.hj212 is not None
        monitors = load_monitors(COMMUNITY, sim_sensors(COMMUNITY))
        assert {m.sensor.id for m in monitors} == RESTAURANTS
        assert {(m.model.crc, m.model.stamp) for m in monitors} == {
            ("hj212", "start"), ("modbus", "start"), ("hj212", "end")
        }  # fmt: skip
        start_s = (int(time.time()) - 7200) // 600 * 600  # two hours ago, on a 10 min boundary
        options = MonitorOptions(
            port=ingest.hj212.port, speed=600.0, start_s=start_s, duration_s=600
        )
        counters = Hj212Fleet(monitors, options).run(report_every_real_s=60)
        # 10 real-time uploads each, and 2051: one 10-minute one or two 5-minute ones
        assert counters.frames == 6 * 10 + 2 * 1 + 2 * 1 + 2 * 2
        assert counters.answered == counters.frames and counters.retries == 0
        rows = wait_for(lambda: _stored(influx, start_s), WAIT_S)
        assert {sensor for sensor, _, _ in rows} == RESTAURANTS
        for sensor in RESTAURANTS:  # each real-time value the minute it stood for
            ends = sorted(ts for s, ts, period in rows if s == sensor and period == 60)
            assert ends == [(start_s + 60 * i) * 1000 for i in range(1, 11)], sensor
    finally:
        ingest.stop()
        db.close()
        influx.close()


def _stored(influx: InfluxClient, start_s: int) -> list[tuple[str, int, int]] | None:
    """(sensor, ts, period_s) of the fume readings after `start_s`, once every monitor's
    ten real-time ones are there."""
    series = influx.query(
        f'SELECT "oil_fume", "period_s" FROM "fume" WHERE time > {start_s}s GROUP BY "sensor"'
    )
    rows = [
        (s.tags["sensor"], int(v[0]), int(v[2]))
        for s in series
        if s.tags is not None
        for v in s.values
    ]
    rtd = [r for r in rows if r[2] == 60]
    return rows if len(rtd) == 10 * len(RESTAURANTS) else None
