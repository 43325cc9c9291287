"""`linli nats setup`: the streams, mappings, consumers and buckets, created idempotently.

Run it again and it changes nothing (or updates what differs). The partition mappings
are subject transforms inside the streams (a source's for the readings, the stored
stream's own), so they are set through the JetStream API on a running cluster: no server
configuration to generate or reload.

Why the readings are sourced from `$MQTT_msgs` and not taken by subject: NATS answers a
device's QoS 1 publish (PUBACK) once its `$MQTT_msgs` stream holds the message, not once
a stream of ours does; a stream of ours taking the subject directly lost acknowledged
readings when a node died. Sourcing through a durable consumer with flow-control
acknowledgements (nats-server 2.14: "reliable interest stream sourcing") keeps each
message in `$MQTT_msgs` (an interest stream) until the readings stream has it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamConsumerSource,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from linli.cluster.layout import MQTT_STREAM, Layout

log = logging.getLogger(__name__)

# unacknowledged messages the MQTT source may have in flight (flow control needs a bound)
MQTT_MAX_ACK_PENDING = 20_000


class SetupError(RuntimeError):
    """The cluster cannot be set up (no MQTT stream yet, a conflicting stream)."""


class NotSetUp(SetupError):
    """A stream or bucket of the layout does not exist yet: `linli nats setup` has not run."""


@dataclass(frozen=True, slots=True)
class SetupReport:
    """What `setup` found and did, one line each."""

    lines: tuple[str, ...]


async def wait_mqtt_stream(js: JetStreamContext, timeout_s: float) -> int:
    """The replicas of `$MQTT_msgs`, once the MQTT listener has created it (at its first
    client's connection)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            info = await js.stream_info(MQTT_STREAM)
            return info.config.num_replicas or 1
        except NotFoundError:
            if loop.time() > deadline:
                raise SetupError(
                    f"no {MQTT_STREAM} stream: connect one MQTT client to the cluster first "
                    "(linli nats setup does, through LINLI_MQTT_URL)"
                ) from None
            await asyncio.sleep(0.2)


async def setup(js: JetStreamContext, layout: Layout, timeout_s: float = 30.0) -> SetupReport:
    """Create or update everything of `layout`; safe to run again."""
    lines = []
    mqtt_replicas = await wait_mqtt_stream(js, timeout_s)
    # An interest stream's consumers must have its replicas.
    consumer = ConsumerConfig(
        durable_name=layout.mqtt_consumer,
        deliver_subject=layout.mqtt_deliver_subject,
        filter_subject=layout.mqtt_filter,
        ack_policy=AckPolicy.FLOW_CONTROL,
        flow_control=True,
        idle_heartbeat=1.0,
        max_ack_pending=MQTT_MAX_ACK_PENDING,
        num_replicas=mqtt_replicas,
    )
    lines.append(await _consumer(js, MQTT_STREAM, consumer))
    src, dest = layout.readings_transform
    readings = StreamConfig(
        name=layout.readings_stream,
        description="linli: the devices' readings and statuses by sensor partition",
        sources=[
            StreamSource(
                name=MQTT_STREAM,
                consumer=StreamConsumerSource(
                    name=layout.mqtt_consumer, deliver_subject=layout.mqtt_deliver_subject
                ),
                subject_transforms=[SubjectTransform(src=src, dest=dest)],
            )
        ],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=layout.replicas,
        max_age=layout.max_age_s,
        discard=DiscardPolicy.OLD,
    )
    lines.append(await _stream(js, readings))
    src, dest = layout.stored_transform
    stored = StreamConfig(
        name=layout.stored_stream,
        description="linli: the stored readings by site partition, for the engine",
        subjects=[layout.stored_subjects],
        subject_transform=SubjectTransform(src=src, dest=dest),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=layout.replicas,
        max_age=layout.max_age_s,
        duplicate_window=layout.duplicate_window_s,
        discard=DiscardPolicy.OLD,
    )
    lines.append(await _stream(js, stored))
    for bucket in (layout.members_bucket, layout.leases_bucket):
        lines.append(await _bucket(js, bucket, layout.replicas, layout.member_ttl_s))
    return SetupReport(tuple(lines))


async def check(js: JetStreamContext, layout: Layout) -> None:
    """That the cluster is set up as `layout` says, before a worker takes a partition.

    Raises `NotSetUp` when a stream or bucket is missing (a worker can wait for the setup)
    and `SetupError` when the streams were set up for another partition count or the
    buckets for another TTL: a worker reading partition 3 of 8 while the mapping cuts 4
    would read a quarter of another share, and the members' entries would lapse at other
    times than the workers beat."""
    found = []
    for name in (layout.readings_stream, layout.stored_stream):
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            raise NotSetUp(f"no stream {name}: run `linli nats setup` first") from None
        config = info.config
        if name == layout.readings_stream:
            sources = config.sources or []
            transforms = (sources[0].subject_transforms or []) if sources else []
            dest = transforms[0].dest if transforms else None
        else:
            dest = config.subject_transform.dest if config.subject_transform else None
        found.append((name, _partitions_of(dest)))
    for name, count in found:
        if count is None:
            raise SetupError(f"stream {name} has no partition mapping: run `linli nats setup`")
        if count != layout.partitions:
            raise SetupError(
                f"stream {name} is set up for {count} partitions and LINLI_NATS_PARTITIONS "
                f"is {layout.partitions}: every worker must use the count `linli nats setup` "
                "used (changing it remaps every sensor and site: drain the streams, then set "
                "up again)"
            )
    for bucket in (layout.members_bucket, layout.leases_bucket):
        try:
            status = await (await js.key_value(bucket)).status()
        except BucketNotFoundError:
            raise NotSetUp(f"no bucket {bucket}: run `linli nats setup` first") from None
        if status.ttl != layout.member_ttl_s:
            raise SetupError(
                f"bucket {bucket} keeps entries {status.ttl}s, not {layout.member_ttl_s}s: "
                "LINLI_NATS_MEMBER_TTL_S must be the same for every worker and setup"
            )


def _partitions_of(dest: str | None) -> int | None:
    """The partition count in a mapping's destination (`….{{partition(8,1)}}.…`)."""
    match = re.search(r"partition\((\d+),", dest or "")
    return int(match.group(1)) if match else None


async def _consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> str:
    name = config.durable_name
    try:
        await js.consumer_info(stream, name or "")
        found = True
    except NotFoundError:
        found = False
    await js.add_consumer(stream, config)  # creates, or updates an existing durable's config
    return f"consumer {stream}/{name}: {'kept' if found else 'created'}"


async def _stream(js: JetStreamContext, config: StreamConfig) -> str:
    try:
        info = await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        return f"stream {config.name}: created"
    if info.config.num_replicas != config.num_replicas:
        raise SetupError(
            f"stream {config.name} has {info.config.num_replicas} replicas, not "
            f"{config.num_replicas}: change them with the nats CLI (a stream's replicas move "
            "its data)"
        )
    await js.update_stream(config)
    return f"stream {config.name}: kept"


async def _bucket(js: JetStreamContext, bucket: str, replicas: int, ttl_s: float) -> str:
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        kv = None
    # An entry not written again within the TTL is gone: a worker's heartbeat, a lease.
    config = KeyValueConfig(
        bucket=bucket, history=1, replicas=replicas, storage=StorageType.FILE, ttl=ttl_s
    )
    if kv is None:
        await js.create_key_value(config)
        return f"bucket {bucket}: created"
    status = await kv.status()
    if status.ttl != ttl_s:
        raise SetupError(
            f"bucket {bucket} keeps entries {status.ttl}s, not {ttl_s}s: "
            "LINLI_NATS_MEMBER_TTL_S must be the same for every worker and setup"
        )
    return f"bucket {bucket}: kept"
