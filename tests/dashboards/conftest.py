"""A day of readings produced through the real ingest path, shared by the dashboard tests.

Noise and fume readings, status, health and bad messages are published at QoS 1 to the
test mosquitto and stored by the Ingest class; case events are written directly, so
the dashboards are tested apart from the rule engine that writes them. The hourly
aggregates are then computed with the continuous queries' own SELECT ... INTO, as linli
does at start (influx/retention.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pytest

from linli.influx.client import InfluxClient
from linli.influx.deliveries import delivery_lines
from linli.influx.retention import HOUR_MS, backfill
from linli.ingest.memory import MemoryStore
from linli.ingestion import Ingest
from linli.localservers import LocalServer
from linli.rules.delivery import Delivery
from linli.rules.reading import SensorKind
from linli.rules.registry import Grid, Registry, Sensor, Site, SiteKind, Zone
from tests.helpers import WAIT_S, Publisher, count, settings_for, wait_for

MINUTE_MS = 60_000
NOISE_SENSORS = {"n-01": "hj-b1", "n-02": "hj-b1", "n-03": "hj-b3"}
FUME_SENSORS = {"f-01": "rest-1", "f-02": "rest-2"}
ZONES = {"hj-b1": Zone.Z4A, "hj-b3": Zone.Z2, "rest-1": Zone.Z2, "rest-2": Zone.Z2}
COMMUNITIES = {"g1": "tianxin", "g2": "jq"}  # each grid's community
LOST_SEQS = (100, 101, 102)  # n-02 never sends these: three readings lost at source
# (channel, outcome, hour of the day, case ids of one send): a digest of two retried on
# the grid's robot twice, one SMS failed, the rest delivered
DELIVERY_OUTCOMES = (
    ("ding-g1", "delivered", 2, (1,)),
    ("ding-g1", "retry", 12, (2, 3)),
    ("ding-g1", "retry", 13, (2, 3)),
    ("ding-g1", "delivered", 14, (2, 3)),
    ("sms", "failed", 20, (3,)),
    ("sms", "delivered", 20, (1,)),
)


def _delivery(channel: str, case_id: int) -> Delivery:
    return Delivery(
        f"k-{channel}-{case_id}",
        case_id,
        "case.opened",
        channel,
        (),
        (),
        "网格员",
        "t",
        "x",
        "l",
        0,
    )


def registry() -> Registry:
    """Two grids, each of a community of the street (CONTRACT §9); a road-side building
    (4a) with two noise sensors, an inner one (2), two restaurants with fume monitors."""
    return Registry(
        grids=[
            Grid("g1", "红街一网格", community="tianxin"),
            Grid("g2", "笕桥二网格", community="jq"),
        ],
        sites=[
            Site("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z4A, "g1"),
            Site("hj-b3", "红街公寓3幢", SiteKind.RESIDENTIAL, Zone.Z2, "g2"),
            Site("rest-1", "蜀味小馆", SiteKind.SHOP, Zone.Z2, "g1", cooking_heads=2),
            Site("rest-2", "湘里人家", SiteKind.SHOP, Zone.Z2, "g2", cooking_heads=5),
        ],
        sensors=[Sensor(s, SensorKind.NOISE, site) for s, site in NOISE_SENSORS.items()]
        + [Sensor(s, SensorKind.FUME, site) for s, site in FUME_SENSORS.items()],
        version=1,
    )


@dataclass
class Day:
    """What was published, for the tests to compute the expected numbers from."""

    influx: InfluxClient
    start_ms: int
    end_ms: int
    noise: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fume: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def time_filter(self) -> str:
        """Grafana's $timeFilter for an absolute range covering the day and the test run."""
        return f"time >= {self.start_ms}ms and time <= {self.end_ms}ms"


def _noise_day(rng: np.random.Generator, first_ms: int, n: int, base: float) -> list[dict]:
    hours = ((first_ms // MINUTE_MS + np.arange(n)) // 60 + 8) % 24  # local hour, UTC+8
    busy = np.where((hours >= 7) & (hours < 23), 12.0, 0.0)
    laeq = np.round(base + busy + rng.normal(0, 4, n), 1)
    out = []
    for i, level in enumerate(laeq.tolist()):
        out.append(
            {
                "ts": first_ms + i * MINUTE_MS,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {
                    "laeq": level,
                    "lamax": round(level + 9.5, 1),
                    "lamin": round(level - 8.0, 1),
                    "l10": round(level + 2.0, 1),
                    "l50": round(level - 1.5, 1),
                    "l90": round(level - 5.0, 1),
                },
            }
        )
    return out


def _fume_day(rng: np.random.Generator, first_ms: int, n: int) -> list[dict]:
    out = []
    for i in range(n):
        ts = first_ms + i * MINUTE_MS
        hour = (ts // HOUR_MS + 8) % 24
        cooking = 10 <= hour < 14 or 17 <= hour < 21
        oil = float(np.round(rng.uniform(1.0, 3.5) if cooking else rng.uniform(0.05, 0.4), 2))
        out.append(
            {
                "ts": ts,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {
                    "oil_fume": oil,
                    "pm": round(oil * 0.8, 2),
                    "nmhc": round(oil * 2.5, 2),
                    "fan_on": cooking,
                    "purifier_on": cooking and hour != 18,  # off 18–19 h: 装而不用
                    "purifier_current": 1.8 if cooking and hour != 18 else 0.0,
                },
            }
        )
    return out


def _batches(prefix: str, sensor: str, readings: list[dict]) -> list[tuple[str, dict]]:
    topic = f"{prefix}/{sensor}/telemetry"
    return [(topic, {"batch": readings[i : i + 1000]}) for i in range(0, len(readings), 1000)]


@pytest.fixture(scope="module")
def day(
    broker: LocalServer, influx_server: LocalServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Day]:
    """24 hours of minute readings ending at the last whole hour, stored through ingest."""
    mqtt_url = f"mqtt://127.0.0.1:{broker.port}"
    influx_url = f"http://127.0.0.1:{influx_server.port}"
    tag = uuid.uuid4().hex[:6]
    prefix, db = f"dash-{tag}/v1", f"dash_{tag}"
    settings = settings_for(mqtt_url, influx_url, db, prefix, tmp_path_factory.mktemp("dash"))
    influx = InfluxClient(influx_url, db)
    influx.ensure_database("400d")
    store = MemoryStore(registry())
    ingest = Ingest(settings, store, store, influx, seq_grace_ms=0, account_every_ms=0)
    ingest.start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-dash-{tag}")
    now_ms = time.time_ns() // 1_000_000
    first_ms = (now_ms // HOUR_MS - 25) * HOUR_MS + MINUTE_MS  # periods of the last whole day
    result = Day(influx, first_ms - MINUTE_MS, 0)
    rng = np.random.default_rng(4)
    for sensor, base in zip(NOISE_SENSORS, (56.0, 52.0, 44.0), strict=True):
        readings = _noise_day(rng, first_ms, 1440, base)
        if sensor == "n-02":
            readings = [r for r in readings if r["seq"] not in LOST_SEQS]
        result.noise[sensor] = readings
    for sensor in FUME_SENSORS:
        result.fume[sensor] = _fume_day(rng, first_ms, 1440)
    try:
        messages = [
            m
            for sensor, rs in (*result.noise.items(), *result.fume.items())
            for m in _batches(prefix, sensor, rs)
        ]
        for i, sensor in enumerate((*NOISE_SENSORS, *FUME_SENSORS)):
            messages.append(
                (
                    f"{prefix}/{sensor}/status",
                    {"online": sensor != "f-02", "fw": "1.4.2", "ts": first_ms + i},
                )
            )
            for h in range(0, 24, 6):
                messages.append(
                    (
                        f"{prefix}/{sensor}/health",
                        {
                            "ts": first_ms + h * HOUR_MS + i,
                            "battery_v": 3.9 - h * 0.01,
                            "rssi_dbm": -70 - h,
                            "temp_c": 30.5,
                            "uptime_s": 3600 * h,
                        },
                    )
                )
        bad_reading = {"ts": first_ms, "seq": 1, "period_s": 60, "metrics": {"laeq": 171.2}}
        messages.append((f"{prefix}/n-01/telemetry", bad_reading))  # out_of_range
        messages.append((f"{prefix}/n-77/telemetry", bad_reading))  # unknown_sensor
        pub.send_many(messages)
        stored = sum(len(rs) for rs in result.noise.values())
        wait_for(lambda: count(influx, "noise", "laeq") == stored)
        wait_for(lambda: count(influx, "fume", "oil_fume") == 2 * 1440)
        wait_for(lambda: count(influx, "device", "seq_gaps", "WHERE seq_gaps > 0") == 1)
        wait_for(lambda: count(influx, "rejected", "count") == 2)
        wait_for(lambda: count(influx, "device", "battery_v") == 5 * 4)
    finally:
        pub.close()
        ingest.stop()
    # the rule engine writes these; here they are written directly
    events = [
        ("hj-b1", "g1", "noise_night", "breach", 1, "open", "夜间噪声超标", 2),
        ("hj-b1", "g1", "noise_night", "breach", 1, "acknowledged", "夜间噪声超标", 3),
        ("rest-1", "g1", "fume_limit", "breach", 2, "open", "油烟超标", 12),
        ("rest-1", "g1", "fume_limit", "breach", 2, "closed", "油烟超标", 15),
        ("rest-2", "g2", "offline", "device", 3, "open", "设备离线", 20),
    ]
    influx.write(
        "".join(
            f"case_event,community={COMMUNITIES[grid]},grid={grid},kind={kind},rule={rule},"
            f"site={site} case_id={cid}i,"
            f'state="{state}",title="{title}" {first_ms + hour * HOUR_MS}\n'
            for site, grid, rule, kind, cid, state, title, hour in events
        ).encode()
    )
    # the delivery worker's outcomes, as it writes them (influx/deliveries.py)
    for channel, outcome, hour, case_ids in DELIVERY_OUTCOMES:
        items = [_delivery(channel, cid) for cid in case_ids]
        influx.write(
            delivery_lines(items, outcome, "errcode 0", first_ms + hour * HOUR_MS).encode()
        )
    result.end_ms = time.time_ns() // 1_000_000 + MINUTE_MS
    backfill(influx, result.start_ms, result.end_ms)
    yield result
    influx.close()
    httpx.post(f"{influx_url}/query", data={"q": f'DROP DATABASE "{db}"'}, timeout=10)
