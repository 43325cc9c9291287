"""Shared test helpers: a tiny registry, a QoS 1 publisher, waiting for InfluxDB."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from linli.influx.client import InfluxClient
from linli.ingest.lineprotocol import LineBuilder
from linli.rules.policy import RulePolicy
from linli.rules.reading import SensorKind
from linli.rules.registry import Grid, Registry, Sensor, SensorTags, Site, SiteKind, Zone
from linli.settings import Settings


def small_registry(version: int = 1) -> Registry:
    """Two sites in one grid: a zone-2 building with a noise sensor, a restaurant with fume."""
    return Registry(
        grids=[Grid("g1", "红街一网格")],
        sites=[
            Site("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"),
            Site("rest-1", "老杭州面馆", SiteKind.SHOP, Zone.Z2, "g1", cooking_heads=2),
        ],
        sensors=[
            Sensor("n-01", SensorKind.NOISE, "hj-b1"),
            Sensor("n-02", SensorKind.NOISE, "hj-b1"),
            Sensor("f-01", SensorKind.FUME, "rest-1"),
        ],
        version=version,
    )


def builder_for(
    *tags: SensorTags, policy: RulePolicy | None = None, kind: SiteKind = SiteKind.RESIDENTIAL
) -> LineBuilder:
    """A line builder whose registry has a site of `kind` for each tag set's site and zone."""
    sites = {t.site: Site(t.site, t.site, kind, t.zone, t.grid) for t in tags}
    sensors = [Sensor(t.sensor, t.kind, t.site) for t in tags]
    return LineBuilder(policy, Registry(sites=sites.values(), sensors=sensors))


def settings_for(
    mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str, tmp: Path, **extra: Any
) -> Settings:
    """Settings pointing at the test servers, with this test's prefix, database and dirs."""
    values: dict[str, Any] = {
        "mqtt_url": mqtt_url,
        "influx_url": influx_url,
        "influx_db": influx_db,
        "topic_prefix": topic_prefix,
        "spool_dir": tmp / "spool",
        "db_url": f"sqlite:///{tmp}/linli.db",
        "mqtt_client_id": f"linli-{topic_prefix.split('/')[0]}",
        "batch_max_age_ms": 50,
        "registry_refresh_s": 0.2,
    }
    return Settings(**{**values, **extra})


def noise(ts_ms: int, seq: int, laeq: float = 55.0, **metrics: float) -> dict[str, Any]:
    """A noise reading as a device sends it."""
    return {"ts": ts_ms, "seq": seq, "period_s": 60, "metrics": {"laeq": laeq, **metrics}}


class Publisher:
    """A QoS 1 publisher that waits for every PUBACK."""

    def __init__(self, mqtt_url: str, client_id: str = "test-pub") -> None:
        host, port = mqtt_url.rsplit(":", 1)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(host.split("//")[1], int(port))
        self.client.loop_start()

    def send(self, topic: str, payload: bytes | dict[str, Any], qos: int = 1) -> None:
        """Publish one message and wait until the broker has it."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(topic, body, qos=qos).wait_for_publish(WAIT_S)

    def send_many(self, items: Iterable[tuple[str, bytes | dict[str, Any]]]) -> int:
        """Publish many, then wait for all PUBACKs."""
        infos = []
        for topic, payload in items:
            body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            infos.append(self.client.publish(topic, body, qos=1))
        for info in infos:
            info.wait_for_publish(WAIT_S)
        return len(infos)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


# How long a test waits for a condition: generous, for a loaded 2-core machine. It costs
# time only when something is broken; a test never asserts how fast anything was.
WAIT_S: Final = 120.0


def wait_for(check: Callable[[], Any], timeout_s: float = WAIT_S, every_s: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"condition not met in {timeout_s}s; last value {last!r}")


def count(influx: InfluxClient, measurement: str, field: str, where: str = "") -> int:
    """Number of points with `field` in `measurement`."""
    series = influx.query(f'SELECT count("{field}") FROM "{measurement}" {where}')
    return int(series[0].values[0][1]) if series else 0
