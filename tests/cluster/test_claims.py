"""Two workers starting at once can each take a partition: each listed the members before
the other said what it took. The later claim wins the partition's fencing epoch
(store/partitions.py); the earlier holder must let go at its next beat, and take the
partition again if it is still its share, also when it has nothing to commit (before this,
an idle ingest worker held such a partition under a stale claim until its first commit
failed, and the checkpoint named a holder that had let go: the fault test's start, once).
"""

from __future__ import annotations

import asyncio

import nats
import pytest

from linli.cluster.layout import Layout
from linli.cluster.membership import Membership
from linli.cluster.setup import setup
from linli.clustering import EngineWorker, IngestWorker, layout_of
from linli.rules.checkpoint import Claim
from linli.store import partitions as checkpoints
from tests.cluster.test_cluster_e2e import Running
from tests.cluster.test_membership import Ledger
from tests.helpers import wait_for


def holders(world, stream: str) -> dict[int, str | None]:
    return {
        part: owner
        for (s, part), (owner, _) in checkpoints.checkpoints(world.db).items()
        if s == stream
    }


@pytest.mark.parametrize("role", ["ingest", "engine"])
def test_a_worker_whose_claim_another_replaced_lets_go_and_claims_again(small_cluster, role):
    world = small_cluster(2)
    layout = layout_of(world.settings)
    worker: IngestWorker | EngineWorker
    if role == "ingest":
        stream = layout.readings_stream
        worker = ingest = IngestWorker(world.settings, None, member="w-0")

        def claims() -> dict[int, Claim]:
            return {part: held.claim for part, held in ingest._parts.items()}
    else:
        stream = layout.stored_stream
        worker = engine = EngineWorker(world.settings, None, member="w-0")

        def claims() -> dict[int, Claim]:
            return engine.engine.claims()

    running = Running(worker)
    try:
        wait_for(lambda: holders(world, stream) == {0: "w-0", 1: "w-0"} and set(claims()) == {0, 1})
        # a worker that started with it claimed partition 1 after it, then let go (its
        # listing showed this one): no reading comes, so no commit finds out
        racer = checkpoints.claim(world.db, stream, 1, "w-racer")
        wait_for(lambda: holders(world, stream)[1] == "w-0" and 1 in claims())
        again = claims()[1]
        assert again.epoch > racer.epoch
        assert checkpoints.superseded(world.db, claims().values()) == set()
        assert holders(world, stream)[0] == "w-0"  # the other partition untouched
    finally:
        running.stop()
    assert not running.alive()


def test_a_member_takes_nothing_before_the_others_could_hear_of_it(nats_servers, nats_name):
    """Its first beat only says it is there: two members starting together then split the
    partitions at their second beats, neither taking what the other takes."""
    layout = Layout(nats_name, 8, member_ttl_s=10.0)
    ledger = Ledger()

    async def run() -> None:
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        a = Membership(js, layout, "engine", ledger.owner("a"), member="a")
        b = Membership(js, layout, "engine", ledger.owner("b"), member="b")
        for m in (a, b):
            m._kv = await js.key_value(layout.members_bucket)
        await a.beat()
        assert ledger.holder == {}  # alone in its listing, it took nothing yet
        await b.beat()
        assert ledger.holder == {}
        await a.beat()
        await b.beat()
        assert sorted(len(ledger.of(n)) for n in "ab") == [4, 4]
        assert len(ledger.holder) == 8
        await a.leave()
        await b.leave()
        await nc.close()

    asyncio.run(run())
    assert ledger.clashes == []
    assert ledger.holder == {}
