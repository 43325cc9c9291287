"""Reading one partition from a checkpoint on, in order; a redelivery is a gap."""

from __future__ import annotations

import asyncio

import nats
import pytest

from linli.cluster.layout import Layout
from linli.cluster.reader import Gap, Message, PartitionReader
from linli.cluster.setup import setup
from linli.rules.partitions import site_partition

PARTS = 4


def test_a_partition_is_read_in_order_from_its_checkpoint_and_a_redelivery_is_a_gap(
    nats_servers, nats_name
):
    layout = Layout(nats_name, PARTS)
    part = site_partition("rest-1", PARTS)
    other = next(s for s in (f"site-{i}" for i in range(50)) if site_partition(s, PARTS) != part)

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        for i in range(30):  # interleaved with another partition's
            await js.publish(layout.stored_subject("rest-1", "f-01"), f"{i}".encode())
            await js.publish(layout.stored_subject(other, "n-01"), b"x")
        reader = PartitionReader(js, layout.stored_stream, layout.stored_filter(part), 0, batch=7)
        first: list[Message] = []
        while len(first) < 30:
            first += await reader.fetch()
        await reader.ack(first[-1])
        # a new owner whose checkpoint is the 10th message's sequence reads from the 11th
        await reader.restart(first[9].seq)
        again: list[Message] = []
        while len(again) < 20:
            again += await reader.fetch()
        # a message not acknowledged and asked again comes a second time: out of order
        await again[-1].msg.nak()
        with pytest.raises(Gap):
            for _ in range(50):
                await reader.fetch()
        await reader.close()
        await nc.close()
        return first, again

    first, again = asyncio.run(run())
    assert [m.data for m in first] == [f"{i}".encode() for i in range(30)]
    assert [m.seq for m in first] == sorted(m.seq for m in first)
    assert [m.data for m in again] == [f"{i}".encode() for i in range(10, 30)]
