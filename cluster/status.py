"""What an operator watches on a cluster (docs/cluster.md, "What to watch"), read in one go:
the live members of each role and the partitions each holds, the notifier's lease, the
readings still waiting in `$MQTT_msgs` for the readings stream, and for each partition of
both streams its last message beside its owner's checkpoint.

A partition is **stuck** when its stream holds messages past its checkpoint and no live
member of its role holds it: nobody is reading it (`linli nats status` then exits 1). One
behind while a member holds it is being worked on; a loaded owner catches up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError

from linli.cluster.layout import MQTT_STREAM, Layout
from linli.cluster.membership import listed_keys

INGEST = "ingest"
ENGINE = "engine"
NOTIFIER = "notifier"  # the lease's name


@dataclass(frozen=True, slots=True)
class PartitionRow:
    """One partition of one stream: its last message and who committed how far."""

    role: str  # whose work it is: ingest (readings) or engine (stored)
    stream: str
    part: int
    last_seq: int  # the stream sequence of its newest message; 0: none yet
    owner: str | None  # the last claimer, from the checkpoint
    checkpoint: int  # the last committed stream sequence; 0: none

    @property
    def behind(self) -> bool:
        """Its stream holds a message past the checkpoint."""
        return self.last_seq > self.checkpoint


@dataclass(frozen=True, slots=True)
class Status:
    members: dict[str, dict[str, tuple[int, ...]]]  # role → member → partitions it holds
    notifier: str | None  # the lease's holder
    # the source's consumer on $MQTT_msgs: not yet delivered, delivered and not yet confirmed
    # by flow control (None: no consumer)
    waiting: tuple[int, int] | None
    partitions: list[PartitionRow]

    def holder(self, row: PartitionRow) -> str | None:
        """The live member of the row's role that says it holds the partition."""
        for member, held in self.members.get(row.role, {}).items():
            if row.part in held:
                return member
        return None

    def stuck(self) -> list[PartitionRow]:
        """Partitions with messages past their checkpoint that no live member holds."""
        return [r for r in self.partitions if r.behind and self.holder(r) is None]


async def read_status(
    js: JetStreamContext,
    layout: Layout,
    checkpoints: Mapping[tuple[str, int], tuple[str | None, int]],
) -> Status:
    """The cluster as NATS and the checkpoints (`(stream, part) → (owner, seq)`, from the
    case store) show it now."""
    members: dict[str, dict[str, tuple[int, ...]]] = {INGEST: {}, ENGINE: {}}
    kv = await js.key_value(layout.members_bucket)
    try:
        keys = await listed_keys(kv)
    except NoKeysError:
        keys = []
    for key in keys:
        role, _, member = key.partition(".")
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # expired between the listing and the read
            continue
        if entry.value:
            held = orjson.loads(entry.value).get("held", [])
            members.setdefault(role, {})[member] = tuple(sorted(held))
    leases = await js.key_value(layout.leases_bucket)
    try:
        lease = await leases.get(NOTIFIER)
        notifier = lease.value.decode() if lease.value else None
    except KeyNotFoundError:
        notifier = None
    try:
        info = await js.consumer_info(MQTT_STREAM, layout.mqtt_consumer)
        waiting: tuple[int, int] | None = (info.num_pending or 0, info.num_ack_pending or 0)
    except NotFoundError:
        waiting = None
    rows = []
    for role, stream, filter_of in (
        (INGEST, layout.readings_stream, layout.readings_filter),
        (ENGINE, layout.stored_stream, layout.stored_filter),
    ):
        for part in range(layout.partitions):
            try:
                last = (await js.get_last_msg(stream, filter_of(part))).seq or 0
            except NotFoundError:  # nothing in this partition yet
                last = 0
            owner, seq = checkpoints.get((stream, part), (None, 0))
            rows.append(PartitionRow(role, stream, part, last, owner, seq))
    return Status(members, notifier, waiting, rows)


def status_lines(status: Status) -> list[str]:
    """The status as a person reads it: members, the lease, the source, then a row per
    partition, the stuck ones marked."""
    out = []
    for role in (INGEST, ENGINE):
        found = status.members.get(role, {})
        out.append(f"{role} members: {len(found)}")
        for member, held in sorted(found.items()):
            out.append(f"  {member}: partitions {list(held)}")
    out.append(f"notifier lease: {status.notifier or 'nobody'}")
    if status.waiting is None:
        out.append(f"readings waiting in {MQTT_STREAM}: unknown (no consumer: run setup)")
    else:
        pending, unconfirmed = status.waiting
        out.append(
            f"readings waiting in {MQTT_STREAM}: {pending} (delivered, not yet confirmed: "
            f"{unconfirmed})"
        )
    out.append("stream  part  last seq  checkpoint  holder")
    stuck = set(map(id, status.stuck()))
    for row in status.partitions:
        mark = "  STUCK: behind, and no live member holds it" if id(row) in stuck else ""
        holder = status.holder(row) or "-"
        out.append(f"{row.stream}  {row.part}  {row.last_seq}  {row.checkpoint}  {holder}{mark}")
    return out
