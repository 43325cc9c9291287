"""`linli nats setup` on a real 3-node cluster: idempotent, the mappings are NATS's own
hash (the one rules/partitions.py computes), nothing left in `$MQTT_msgs`."""

from __future__ import annotations

import asyncio

import nats
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from linli.cluster.layout import Layout
from linli.cluster.setup import MQTT_STREAM, setup
from linli.rules.partitions import partition_of, site_partition
from tests.helpers import WAIT_S

PARTS = 16


def test_setup_twice_creates_then_keeps(nats_servers, nats_name):
    layout = Layout(nats_name, PARTS)

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        first = await setup(js, layout)
        second = await setup(js, layout)
        info = await js.stream_info(layout.readings_stream)
        await nc.close()
        return first, second, info

    first, second, info = asyncio.run(run())
    assert [line.rsplit(": ", 1)[1] for line in first.lines] == ["created"] * 5
    assert [line.rsplit(": ", 1)[1] for line in second.lines] == ["kept"] * 5
    assert info.config.num_replicas == 3
    assert len(info.config.sources) == 1


def test_readings_land_in_their_sensors_partition_as_python_computes_it(nats_servers, nats_name):
    layout = Layout(nats_name, PARTS, topic_prefix=f"{nats_name}/v1")
    sensors = [f"s{i:04d}-x" for i in range(300)]

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{nats_name}-pub")
        client.connect("127.0.0.1", nats_servers.nodes[0].mqtt_port)
        client.loop_start()
        infos = [
            client.publish(f"{layout.topic_prefix}/{s}/telemetry", b"{}", qos=1) for s in sensors
        ]
        for info in infos:
            info.wait_for_publish(WAIT_S)
        client.loop_stop()
        client.disconnect()
        for _ in range(int(WAIT_S * 10)):
            state = (await js.stream_info(layout.readings_stream)).state
            if state.messages >= len(sensors):
                break
            await asyncio.sleep(0.1)
        subjects = [
            (await js.get_msg(layout.readings_stream, seq)).subject
            for seq in range(1, state.messages + 1)
        ]
        # the source acknowledges what it copied a moment after the copy lands: wait for it
        for _ in range(int(WAIT_S * 10)):
            left = (await js.consumer_info(MQTT_STREAM, layout.mqtt_consumer)).num_ack_pending
            if left == 0:
                break
            await asyncio.sleep(0.1)
        await nc.close()
        return subjects, left

    subjects, left = asyncio.run(run())
    assert len(subjects) == len(sensors)
    seen = {}
    for subject in subjects:
        name, r, part, sensor, kind = subject.split(".")
        assert (name, r, kind) == (nats_name, "r", "telemetry")
        seen[sensor] = int(part)
    assert seen == {s: partition_of(s, PARTS) for s in sensors}
    assert len(set(seen.values())) == PARTS  # 300 sensors reach every partition
    assert left == 0  # the source acknowledged every one: $MQTT_msgs keeps none


def test_stored_readings_land_in_their_sites_partition_once(nats_servers, nats_name):
    layout = Layout(nats_name, PARTS)
    sites = [f"site-{i}" for i in range(200)] + ["blk.3", "a.b.c"]

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        for site in sites:
            for _ in range(2):  # the second is a repeat: the stream drops it by its id
                await js.publish(
                    layout.stored_subject(site, "n-01"), b"{}", headers={"Nats-Msg-Id": site}
                )
        state = (await js.stream_info(layout.stored_stream)).state
        subjects = [
            (await js.get_msg(layout.stored_stream, seq)).subject
            for seq in range(1, state.messages + 1)
        ]
        await nc.close()
        return subjects

    subjects = asyncio.run(run())
    assert len(subjects) == len(sites)
    seen = {}
    for subject in subjects:
        _, _, part, token, _ = subject.split(".")
        seen[token.replace("~", ".")] = int(part)
    assert seen == {site: site_partition(site, PARTS) for site in sites}
