"""The demo's HJ 212 monitors end to end: the Tianxin file's six restaurants' fume
monitors, three models (the standard's CRC, CRC-16/MODBUS, DataTime at the period's end),
simulated by `linli sim`'s own HJ 212 encoder, dial linli's listener over real TCP; every
upload is answered once stored. Each monitor sends real-time (2011) and period (2051)
data; its profile's `readings` is the one stored, as the reading the simulator meant:
the real-time data of the `lampblack-v1` ones, the 10- and 5-minute data of the others;
the other stream is answered, counted and never refused as a `conflict`."""

from __future__ import annotations

import time
from pathlib import Path

from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.rejection import ReasonCode
from linli.sim.monitors import Hj212Fleet, MonitorOptions
from linli.sim.sensors import load_community as sim_sensors
from linli.sim.sensors import load_monitors
from linli.store import Database
from linli.wiring import hj212_monitors
from tests.helpers import WAIT_S, settings_for, wait_for

COMMUNITY = Path(__file__).resolve().parents[1] / "community" / "tianxin.toml"
RESTAURANTS = {"f-rest-01", "f-rest-03", "f-rest-04", "f-rest-05", "f-rest-08", "f-rest-09"}
# sensor -> the period of the readings its profile keeps, and how many in 10 minutes
KEPT = {
    "f-rest-01": (60, 10),  # lampblack-v1: readings = "2011"
    "f-rest-03": (60, 10),
    "f-rest-04": (600, 1),  # yk-fume-3: 10-minute 2051
    "f-rest-05": (600, 1),
    "f-rest-08": (300, 2),  # qz-lampblack: 5-minute 2051, stamped at the end
    "f-rest-09": (300, 2),
}


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
        for sensor, (period, n) in KEPT.items():  # each value the period it stood for
            assert sorted((ts, p) for s, ts, p in rows if s == sensor) == [
                ((start_s + period * i) * 1000, period) for i in range(1, n + 1)
            ], sensor
        # every upload of the other stream answered, counted, neither stored nor refused
        stats = ingest.hj212.stats
        assert stats.other_stream == counters.frames - sum(n for _, n in KEPT.values())
        assert set(stats.other_stream_by_sensor) == RESTAURANTS
        assert ingest.writer.stats.conflicts == 0 and stats.refused == 0
        assert db.list_rejections(reason=ReasonCode.CONFLICT) == []
        assert db.list_rejections(sensors=RESTAURANTS) == []
    finally:
        ingest.stop()
        db.close()
        influx.close()


def _stored(influx: InfluxClient, start_s: int) -> list[tuple[str, int, int]] | None:
    """(sensor, ts, period_s) of the fume readings after `start_s`, once every monitor's
    kept ones are there."""
    series = influx.query(
        f'SELECT "oil_fume", "period_s" FROM "fume" WHERE time > {start_s}s GROUP BY "sensor"'
    )
    rows = [
        (s.tags["sensor"], int(v[0]), int(v[2]))
        for s in series
        if s.tags is not None
        for v in s.values
    ]
    return rows if len(rows) >= sum(n for _, n in KEPT.values()) else None
