"""Ownership over a real cluster: members split the partitions, one joining takes its
share, one leaving or dying gives its share up, and a partition never has two holders."""

from __future__ import annotations

import asyncio

import nats

from linli.cluster.layout import Layout
from linli.cluster.membership import Membership
from linli.cluster.setup import setup
from linli.rules.partitions import assign
from tests.helpers import WAIT_S

PARTS = 16


class Ledger:
    """Who holds which partition, from the owners' gain and lose calls: a gain of a
    partition another holds is recorded as a clash (the protocol must never make one)."""

    def __init__(self) -> None:
        self.holder: dict[int, str] = {}
        self.clashes: list[tuple[int, str, str]] = []

    def owner(self, name: str) -> Recorder:
        return Recorder(self, name)

    def of(self, name: str) -> set[int]:
        return {p for p, m in self.holder.items() if m == name}


class Recorder:
    def __init__(self, ledger: Ledger, name: str) -> None:
        self.ledger, self.name = ledger, name

    async def gain(self, part: int) -> bool:
        other = self.ledger.holder.get(part)
        if other is not None and other != self.name:
            self.ledger.clashes.append((part, other, self.name))
        self.ledger.holder[part] = self.name
        return True

    async def lose(self, part: int) -> None:
        if self.ledger.holder.get(part) == self.name:
            del self.ledger.holder[part]

    async def superseded(self) -> set[int]:
        return set()  # no checkpoints here (tests/cluster/test_claims.py has them)


class Mortal(Membership):
    """A member that dies: no goodbye, its entry stays in the bucket until the TTL."""

    async def leave(self) -> None:
        return None


async def until(check, timeout_s: float = WAIT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def test_join_leave_and_death(nats_servers, nats_name):
    # a TTL a loaded machine cannot outlast by a stall: a member taken for dead while alive
    # is the fencing epoch's case (tests/test_engine_share.py), not this protocol's
    layout = Layout(nats_name, PARTS, member_ttl_s=10.0)
    ledger = Ledger()

    async def run():
        nc = await nats.connect(nats_servers.url.split(","))
        js = nc.jetstream()
        await setup(js, layout)
        tasks: dict[str, tuple[asyncio.Task, asyncio.Event]] = {}

        members: dict[str, Membership] = {}

        def start(name: str, kind: type[Membership] = Membership) -> None:
            m = members[name] = kind(js, layout, "engine", ledger.owner(name), member=name)
            stop = asyncio.Event()
            tasks[name] = (asyncio.create_task(m.run(stop)), stop)

        def settled(names: list[str]) -> bool:
            expected = assign(names, PARTS)
            return all(ledger.of(n) == expected[n] for n in names) and len(ledger.holder) == PARTS

        # two members split the sixteen
        start("a")
        start("b", Mortal)
        await until(lambda: settled(["a", "b"]))
        assert sorted(len(ledger.of(n)) for n in "ab") == [8, 8]

        # a third joins and takes its share, from both
        start("c")
        await until(lambda: settled(["a", "b", "c"]))
        assert sorted(len(ledger.of(n)) for n in "abc") == [5, 5, 6]

        # one leaves cleanly: the others take its partitions at their next beat
        task, stop = tasks.pop("c")
        stop.set()
        await task
        await until(lambda: settled(["a", "b"]))

        # one dies (no goodbye, its entry stays until the TTL): the last takes everything
        task, _ = tasks.pop("b")
        task.cancel()
        for part in list(ledger.of("b")):  # what a dead process holds, it holds no more
            del ledger.holder[part]
        # (a Mortal says no goodbye: only its entry's TTL running out can hand its share on)
        await until(lambda: settled(["a"]))

        task, stop = tasks.pop("a")
        stop.set()
        await task
        await nc.close()

    asyncio.run(run())
    assert ledger.clashes == []
    assert ledger.holder == {}  # the last member released everything as it left
