"""Through the API and MQTT: a sensor registered a moment ago is used by the next message
(the provisioning order integrators use).

An integrator's provisioning script registers a device, then powers it: its first
readings must be stored, in `linli serve` (API and ingest in one process, one store
object) and with `linli api` and `linli ingest` apart (two store objects on one
database). The periodic registry refresh is set to a minute here, so only the
mechanisms under test can make the readings known.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.ingest.memory import MemoryStore
from linli.ingest.pipeline import Batch, Pipeline
from linli.ingestion import Ingest
from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.rules.reading import SensorKind
from linli.rules.registry import Registry, Sensor
from linli.rules.rejection import ReasonCode
from linli.settings import Settings
from linli.store import Database
from linli.wiring import api_config
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, small_registry, wait_for

ADMIN = {"Authorization": "Bearer registry-admin-token"}
TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000


def _yesterday(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


def _register(api: TestClient, sensor: str, zone: str = "2") -> None:
    """A grid, a site and a sensor through the API, as a provisioning script does."""
    assert api.post(
        "/api/v1/grids", json={"id": "g1", "name": "一网格"}, headers=ADMIN
    ).status_code in (201, 409)
    site = {"id": "b-1", "name": "新楼1幢", "kind": "residential", "zone": zone, "grid": "g1"}
    assert api.post("/api/v1/sites", json=site, headers=ADMIN).status_code in (201, 409)
    created = api.post(
        "/api/v1/sensors", json={"id": sensor, "kind": "noise", "site": "b-1"}, headers=ADMIN
    )
    assert created.status_code == 201, created.text


def _five(start_ms: int, laeq: float = 55.0) -> list[dict[str, Any]]:
    return [noise(start_ms + i * MIN, i + 1, laeq + i * 0.1) for i in range(5)]


def _servers(
    mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str, tmp: Path
) -> tuple[Settings, InfluxClient]:
    """The test servers, with the periodic registry refresh a minute away."""
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp,
        registry_refresh_s=60, admin_token="registry-admin-token",
    )  # fmt: skip
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    return settings, influx


def test_in_serve_a_sensor_registered_through_the_api_is_known_to_the_next_message(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings, influx = _servers(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db = Database(settings.db_url)  # `linli serve`: one store object for API and ingest
    engine_db = Database(settings.db_url)  # the engine's own, as in its child process
    policy = RulePolicy(offline_periods=100_000)
    engine = Engine(engine_db, policy, tick_s=0.05, history=InfluxHistory(influx)).start()
    ingest = Ingest(settings, db, db, influx, policy=policy, on_stored=engine.submit)
    ingest.start(wait_subscribed_s=WAIT_S)
    api = TestClient(create_app(api_config(settings), db, influx, lambda: True, policy=policy))
    pub = Publisher(mqtt_url, f"pub-reg-{topic_prefix.split('/')[0]}")
    topic = f"{topic_prefix}/n-new-1/telemetry"
    try:
        _register(api, "n-new-1")
        for reading in _five(_yesterday("14:01")):  # published right after the 201
            pub.send(topic, reading)
        wait_for(lambda: ingest.pipeline.stats.messages == 5)
        wait_for(lambda: count(influx, "noise", "laeq") == 5)
        assert ingest.pipeline.stats.rejections == 0
        assert db.list_rejections(limit=10) == []
        # a changed site is known at once too: zone 2 → 4a moves the night limit 50 → 55
        patched = api.patch("/api/v1/sites/b-1", json={"zone": "4a"}, headers=ADMIN)
        assert patched.status_code == 200, patched.text
        pub.send(topic, noise(_yesterday("23:31"), 6, 56.0))
        wait_for(lambda: count(influx, "noise", "laeq") == 6)
        rows = influx.query('SELECT "limit_db", "zone" FROM "noise" ORDER BY time DESC LIMIT 1')
        assert rows[0].values[0][1:] == [55, "4a"]
        # and the rule engine judges the new sensor: a loud night opens its case
        loud = [noise(_yesterday("23:41") + i * MIN, 7 + i, 75.0 + i % 3 * 0.1) for i in range(11)]
        pub.send(topic, {"batch": loud})
        wait_for(lambda: engine.judged == 17)
        with engine_db.cases() as tx:
            cases, _ = tx.list_cases()
        assert [(c.site, c.rule, c.sensor) for c in cases] == [("b-1", "noise_leq", "n-new-1")]
    finally:
        pub.close()
        ingest.stop()
        engine.stop()
        engine_db.close()
        db.close()
        influx.close()


def test_with_api_and_ingest_apart_an_unknown_sensor_makes_ingest_look_again(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings, influx = _servers(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    ingest_db = Database(settings.db_url)  # `linli ingest`
    api_db = Database(settings.db_url)  # `linli api`: nothing shared but the database
    ingest = Ingest(settings, ingest_db, ingest_db, influx).start(wait_subscribed_s=WAIT_S)
    api = TestClient(create_app(api_config(settings), api_db, influx, lambda: True))
    pub = Publisher(mqtt_url, f"pub-reg2-{topic_prefix.split('/')[0]}")
    topic = f"{topic_prefix}/n-new-2/telemetry"
    try:
        # a genuinely unknown sensor stays a rejection, kept and counted
        pub.send(topic, noise(_yesterday("14:00"), 1))
        wait_for(lambda: len(ingest_db.list_rejections(limit=10)) == 1)
        [rejected] = ingest_db.list_rejections(limit=10)
        assert (rejected.reason, rejected.sensor) == (ReasonCode.UNKNOWN_SENSOR, "n-new-2")
        time.sleep(0.3)  # past the unknown-sensor check interval: a new spell
        _register(api, "n-new-2")
        for reading in _five(_yesterday("14:01")):
            pub.send(topic, reading)
        wait_for(lambda: count(influx, "noise", "laeq") == 5)
        assert ingest.pipeline.stats.rejections == 1
        assert ingest.pipeline.registry.version == api_db.registry_version()
    finally:
        pub.close()
        ingest.stop()
        ingest_db.close()
        api_db.close()
        influx.close()


class CountingStore(MemoryStore):
    """A registry source that counts how often ingest asks for its version."""

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        self.checks = 0

    def registry_version(self) -> int:
        self.checks += 1
        return super().registry_version()


def test_a_flood_of_unknown_sensors_costs_a_few_registry_checks_a_second():
    store = CountingStore(small_registry())
    batches: list[Batch] = []
    pipeline = Pipeline(store, batches.append, prefix="linli/v1", refresh_ms=10**9)
    t0 = 1_764_201_600_000
    for i in range(1000):  # 1,000 invented ids over 1 s: one every millisecond
        body = b'{"ts": %d, "seq": 1, "period_s": 60, "metrics": {"laeq": 50}}' % t0
        pipeline.accept(f"linli/v1/x-{i:04d}/telemetry", body, i + 1, t0 + i)
    pipeline.flush()
    assert store.checks == 4  # at 0, 250, 500 and 750 ms
    reasons = [r.reason for b in batches for r in b.rejections]
    assert reasons == [ReasonCode.UNKNOWN_SENSOR] * 1000
    # the first unknown message after a quiet spell is checked, and a registered one is used
    store._registry = Registry(
        small_registry().grids.values(),
        small_registry().sites.values(),
        [*small_registry().sensors.values(), Sensor("x-9999", SensorKind.NOISE, "hj-b1")],
        version=2,
    )
    body = b'{"ts": %d, "seq": 1, "period_s": 60, "metrics": {"laeq": 50}}' % (t0 + 2000)
    pipeline.accept("linli/v1/x-9999/telemetry", body, 1001, t0 + 2000)
    pipeline.flush()
    assert store.checks == 5
    # accepted: to be checked against what is stored before it is written (unseeded here)
    assert [u.reading.sensor for u in batches[-1].unchecked] == ["x-9999"]
    assert batches[-1].rejections == []
