"""The fleet against the real mosquitto: exact readings, seq, status, will, backfill, config."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from linli.sim.device import Kind, SensorSpec
from linli.sim.fleet import Fleet
from linli.sim.options import PER_DEVICE, SHARED, Counters, FleetOptions
from linli.sim.scenario import parse_scenario

from .contract import assert_valid_reading

SPEED = 30.0  # 60 simulated seconds in 2 real ones
DURATION_S = 60
HEALTH_EVERY_S = 30
WAIT_S = 120.0  # the most any wait for the broker may take (a loaded machine)


class Recorder:
    """An MQTT 5 subscriber keeping every message with its retain flag as published."""

    def __init__(self, mqtt_url: str, topic_filter: str, client_id: str) -> None:
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(host, int(port))
        self.client.loop_start()
        self.client.subscribe(topic_filter, options=SubscribeOptions(qos=1, retainAsPublished=True))
        assert subscribed.wait(WAIT_S)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def by_sensor(
        self, kind: str, *, distinct: bool = False
    ) -> dict[str, list[tuple[bytes, bool]]]:
        """Messages on `{prefix}/{sensor}/{kind}`, per sensor, in arrival order.

        `distinct`: each payload once. QoS 1 is at least once: a message in flight when a
        device's connection drops is sent again once it reconnects, so the broker may
        forward it twice; telemetry payloads are unique (their seq), so the distinct ones
        are exactly what the fleet published."""
        out: dict[str, list[tuple[bytes, bool]]] = defaultdict(list)
        seen: set[tuple[str, bytes]] = set()
        with self._lock:
            for topic, payload, retain in self.messages:
                if not topic.endswith("/" + kind):
                    continue
                if distinct:
                    if (topic, payload) in seen:
                        continue
                    seen.add((topic, payload))
                out[topic.split("/")[-2]].append((payload, retain))
        return out

    def wait_for(self, done: Any) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done(self) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def readings_of(
    messages: list[tuple[bytes, bool]],
) -> tuple[list[dict[str, Any]], list[int], list[bytes]]:
    """Readings in arrival order (batches flattened), batch sizes, and what was not JSON."""
    readings, batches, bad = [], [], []
    for payload, _ in messages:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            bad.append(payload)
            continue
        if "batch" in data:
            batches.append(len(data["batch"]))
            readings.extend(data["batch"])
        else:
            readings.append(data)
    return readings, batches, bad


def last_local_noon(tz: str = "Asia/Shanghai") -> int:
    """Epoch seconds of the latest 12:00 in `tz` at least two minutes ago."""
    now = datetime.now(ZoneInfo(tz)) - timedelta(minutes=2)
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    return int((noon if noon <= now else noon - timedelta(days=1)).timestamp())


def publish_retained(mqtt_url: str, topic: str, payload: bytes) -> None:
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"cfg-{time.monotonic_ns()}")
    client.connect(host, int(port))
    client.loop_start()
    client.publish(topic, payload, qos=1, retain=True).wait_for_publish(WAIT_S)
    client.disconnect()
    client.loop_stop()


@pytest.mark.parametrize("connections", [PER_DEVICE, SHARED])
def test_fleet_end_to_end(mqtt_url: str, topic_prefix: str, connections: str) -> None:
    tag = topic_prefix.split("/")[0]
    sensors = [SensorSpec(f"{tag}-n{i:02d}", Kind.NOISE, "restaurant") for i in range(15)] + [
        SensorSpec(f"{tag}-f{i:02d}", Kind.FUME, "restaurant") for i in range(5)
    ]
    offline, bad, slow, stuck = f"{tag}-n00", f"{tag}-n01", f"{tag}-n02", f"{tag}-f00"
    scenario = parse_scenario(
        {
            "event": [
                {"sensor": offline, "type": "offline", "at": 10, "for": 20},
                {"sensor": bad, "type": "bad_payload", "at": 5},
                {"sensor": stuck, "type": "stuck", "at": 10, "for": 10},
            ]
        }
    )
    # linli's retained config, written before the devices come up: n02 reports every 5 s.
    publish_retained(mqtt_url, f"{topic_prefix}/{slow}/config", b'{"period_s": 5}')
    recorder = Recorder(mqtt_url, f"{topic_prefix}/#", f"rec-{tag}")
    start = last_local_noon()  # the restaurants' lunch peak: busy, varied readings
    options = FleetOptions(
        mqtt_url=mqtt_url, prefix=topic_prefix, period_s=1, speed=SPEED, start_s=start,
        duration_s=DURATION_S, connections=connections, shared_links=2,
        health_every_s=HEALTH_EVERY_S, seed=3,
    )  # fmt: skip
    fleet = Fleet(sensors, options, scenario)
    slow_ends = [
        t
        for t in range(start + 1, start + DURATION_S + 1)
        if (t - fleet.schedule.phase_s[2]) % 5 == 0
    ]
    expected_total = 19 * DURATION_S + len(slow_ends)
    counters: Counters = fleet.run()

    assert len(slow_ends) == 12
    assert (counters.readings, counters.batches, counters.bad_payloads) == (expected_total, 1, 1)
    assert (counters.acked, counters.errors, counters.buffered, counters.dropped) == (
        counters.messages,
        0,
        0,
        0,
    )
    recorder.wait_for(
        lambda r: (
            sum(len(v) for v in r.by_sensor("telemetry", distinct=True).values())
            >= counters.messages
        )
    )
    telemetry = recorder.by_sensor("telemetry", distinct=True)
    assert sum(len(v) for v in telemetry.values()) == counters.messages
    assert set(telemetry) == {s.id for s in sensors}

    every_second = [t * 1000 for t in range(start + 1, start + DURATION_S + 1)]
    for spec in sensors:
        readings, batches, not_json = readings_of(telemetry[spec.id])
        for reading in readings:
            assert_valid_reading(reading, spec.kind.value)
        # Seq rises from 0 without gaps, ts with it, across the outage and the backfill.
        assert [r["seq"] for r in readings] == list(range(len(readings))), spec.id
        expected_ts = [t * 1000 for t in slow_ends] if spec.id == slow else every_second
        assert [r["ts"] for r in readings] == expected_ts, spec.id
        assert {r["period_s"] for r in readings} == ({5} if spec.id == slow else {1})
        assert not_json == (
            [b'{"ts":%d,"seq":4,"period_s":1,"metrics":{"laeq":58.3}' % ((start + 5) * 1000)]
            if spec.id == bad
            else []
        )
        if spec.id == offline:
            # Everything the device sampled while offline came back as one batch; on its
            # own connection the reconnect may also catch a reading or two after the outage.
            (size,) = batches
            first = next(i for i, r in enumerate(readings) if r["ts"] == (start + 10) * 1000)
            assert size == 20 if connections == SHARED else 20 <= size < DURATION_S - 10
            assert [r["seq"] for r in readings[first : first + size]] == list(range(9, 9 + size))
        else:
            assert batches == []
    stuck_readings = {
        r["ts"] // 1000 - start: r["metrics"] for r in readings_of(telemetry[stuck])[0]
    }
    assert all(stuck_readings[t] == stuck_readings[9] for t in range(10, 20))
    assert stuck_readings[20] != stuck_readings[9] and stuck_readings[8] != stuck_readings[9]

    # Status: retained, online at connect, offline at the end; the outage in between.
    recorder.wait_for(lambda r: sum(len(v) for v in r.by_sensor("status").values()) >= 2 * 20 + 2)
    status = recorder.by_sensor("status")
    end_ms, start_ms = (start + DURATION_S) * 1000, start * 1000
    for spec in sensors:
        payloads = [orjson.loads(p) for p, _ in status[spec.id]]
        assert all(retain for _, retain in status[spec.id])
        assert payloads[0] == {"online": True, "fw": "1.4.2", "ts": start_ms}
        assert payloads[-1] == {"online": False, "ts": end_ms}
        if spec.id != offline:
            assert len(payloads) == 2
    outage = [orjson.loads(p) for p, _ in status[offline]][1:3]
    if connections == PER_DEVICE:
        assert outage[0] == {"online": False}  # the broker's last will on the dropped connection
        assert outage[1]["online"] is True and outage[1]["ts"] >= (start + 30) * 1000
    else:
        assert outage == [
            {"online": False, "ts": (start + 10) * 1000},
            {"online": True, "fw": "1.4.2", "ts": (start + 30) * 1000},
        ]

    health = recorder.by_sensor("health")
    assert sum(len(v) for v in health.values()) == counters.health
    # Every 30 s at each device's phase: twice in the minute; the outage may swallow some.
    assert {s.id: len(health[s.id]) for s in sensors if s.id != offline} == {
        s.id: 2 for s in sensors if s.id != offline
    }
    assert len(health[offline]) <= 2
    for messages in health.values():
        for payload, retain in messages:
            h = orjson.loads(payload)
            assert not retain and set(h) == {"ts", "battery_v", "rssi_dbm", "temp_c", "uptime_s"}
            assert (
                3.7 <= h["battery_v"] <= 4.1 and -90 <= h["rssi_dbm"] < -55 and h["uptime_s"] > 3600
            )
    recorder.stop()

    # A subscriber arriving later finds every device's retained status: offline since the stop.
    late = Recorder(mqtt_url, f"{topic_prefix}/+/status", f"late-{tag}")
    late.wait_for(lambda r: len(r.messages) >= len(sensors))
    assert sorted(late.messages) == sorted(
        (f"{topic_prefix}/{s.id}/status", b'{"online":false,"ts":%d}' % end_ms, True)
        for s in sensors
    )
    late.stop()


class _Link:
    """Enough of a link for config messages."""

    errors: list[str]

    def __init__(self) -> None:
        self.errors = []

    def fail(self, message: str) -> None:
        self.errors.append(message)


@pytest.mark.parametrize(
    ("payload", "period", "error"),
    [
        pytest.param(b'{"period_s": 10}', 10, None, id="config sets the period"),
        pytest.param(b"", 60, None, id="a deleted config restores the default"),
        pytest.param(
            b'{"period_s": 0}', 30, "outside 1-3600", id="a bad config is refused and counted"
        ),
    ],
)
def test_config_message_changes_the_schedule(
    payload: bytes, period: int, error: str | None
) -> None:
    sensors = [
        SensorSpec("n-01", Kind.NOISE, "residential"),
        SensorSpec("n-02", Kind.NOISE, "residential"),
    ]
    fleet = Fleet(sensors, FleetOptions(period_s=60))
    link = _Link()
    fleet.link_message(link, "linli/v1/n-02/config", b'{"period_s": 30}')  # type: ignore[arg-type]
    fleet.link_message(link, "linli/v1/n-02/config", payload)  # type: ignore[arg-type]
    fleet.link_message(link, "linli/v1/unknown/config", b'{"period_s": 5}')  # type: ignore[arg-type]
    assert fleet.schedule.period_s.tolist() == [60, period]
    assert fleet.devices[1].period_s == period
    assert [e for e in link.errors if error and error in e] == ([link.errors[0]] if error else [])
    assert len(link.errors) == (1 if error else 0)


CLI = (
    "import argparse, sys\n"
    "from linli.sim import cli\n"
    "parser = argparse.ArgumentParser()\n"
    "cli.add_arguments(parser)\n"
    "sys.exit(cli.run(parser.parse_args()))\n"
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_cli_stops_cleanly_on_a_signal(mqtt_url: str, topic_prefix: str, sig: int) -> None:
    recorder = Recorder(
        mqtt_url, f"{topic_prefix}/+/telemetry", f"rec-{topic_prefix.split('/')[0]}"
    )
    argv = ["--mqtt-url", mqtt_url, "--prefix", topic_prefix, "--sensors", "3", "--period", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-c", CLI, *argv, "--connections", "shared"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    recorder.wait_for(lambda r: len(r.messages) >= 3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=WAIT_S)
    assert (proc.returncode, err) == (0, b"")
    lines = out.decode().splitlines()
    assert lines[0].startswith("linli sim: 3 sensors, shared connections to mqtt://127.0.0.1:")
    found = re.search(r"readings (\d+) .* acked (\d+) .* errors (\d+)$", lines[-1])
    assert found is not None, lines[-1]
    readings, acked, errors = (int(v) for v in found.groups())
    assert readings >= 3 and acked == readings and errors == 0
    recorder.wait_for(lambda r: len(r.messages) >= readings)
    assert len(recorder.messages) == readings
    recorder.stop()
