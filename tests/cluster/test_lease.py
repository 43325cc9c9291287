"""The notifier's lease: one holder; a standby takes over once the holder lapses."""

from __future__ import annotations

import asyncio

import nats

from linli.cluster.layout import Layout
from linli.cluster.lease import Lease
from linli.cluster.setup import setup
from tests.helpers import WAIT_S


def test_one_holder_and_a_standby_taking_over_when_it_lapses(nats_servers, nats_name):
    layout = Layout(nats_name, 4, member_ttl_s=5.0)  # no stall of a loaded machine outlasts it

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        kv = await js.key_value(layout.leases_bucket)
        a = Lease(kv, "notifier", "api-a", layout.member_ttl_s)
        b = Lease(kv, "notifier", "api-b", layout.member_ttl_s)
        first = (await a.beat(), await b.beat(), await a.beat(), await b.beat())
        # a stops renewing (a process stopped dead): b takes the lease once the TTL ran out
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not await b.beat():
            assert loop.time() < deadline, "the standby never took over"
            await asyncio.sleep(0.2)
        a_lapsed = not a.held()
        a_again = await a.beat()  # back: it finds the lease another's
        # b leaves cleanly: a takes it at once
        await b.release()
        a_after = await a.beat()
        await nc.close()
        return first, a_lapsed, a_again, a_after

    first, a_lapsed, a_again, a_after = asyncio.run(run())
    assert first == (True, False, True, False)
    assert a_lapsed
    assert a_again is False
    assert a_after is True
