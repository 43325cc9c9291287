"""Who is alive and who owns which partition: heartbeats in a key-value bucket with a TTL.

Each worker of a role (`ingest`, `engine`) writes `<role>.<member>` → the partitions it
holds, every third of the bucket's TTL; an entry not written again within the TTL is
gone (the worker died). Each beat, every worker lists the live entries of its role,
computes the same assignment (rules/partitions.py `assign`) and:

1. lets go of the partitions another worker has claimed since it took them (their
   checkpoint's fencing epoch moved on, store/partitions.py);
2. releases the partitions it holds and no longer owns, and says so (writes its entry);
3. takes the partitions it owns that no other live worker says it holds, from its second
   beat on: by then the others have heard of it, and it of them.

So a partition changes hands only after its holder let go or died. Two workers read a
partition at once only when a listing missed one of them (a loaded cluster, or one taken
for dead while alive: a pause longer than the TTL); then the fencing epoch lets only the
newer claim commit, and the older holder lets go at its next beat, committing or not.
nats-py has no consumer-group API; this is that protocol, by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from typing import Protocol

import nats.errors
import orjson
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from linli.cluster.layout import Layout
from linli.rules.partitions import assign
from linli.store.outage import Outage

LIST_TIMEOUT_S = 5.0  # listing the members' bucket (nats-py sets no limit of its own)

log = logging.getLogger(__name__)


class Owner(Protocol):
    """What a worker does when it gains or loses a partition."""

    async def gain(self, part: int) -> bool:
        """Start on `part`; False when it could not (tried again at the next beat)."""
        ...

    async def lose(self, part: int) -> None:
        """Stop on `part`: nothing of it is committed after this returns."""
        ...

    async def superseded(self) -> set[int]:
        """The partitions held whose claim another worker has replaced since."""
        ...


def member_id(role: str) -> str:
    """A worker's name: its host and PID, and a random tail (a restarted PID is new)."""
    host = socket.gethostname().split(".")[0].lower()
    safe = "".join(c if c.isalnum() or c == "-" else "-" for c in host) or "host"
    return f"{role}-{safe}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Membership:
    """One worker's place among the live workers of its role."""

    def __init__(
        self,
        js: JetStreamContext,
        layout: Layout,
        role: str,
        owner: Owner,
        member: str | None = None,
        beat_s: float | None = None,
    ) -> None:
        self._js = js
        self.layout = layout
        self.role = role
        self.owner = owner
        self.member = member or member_id(role)
        self.beat_s = beat_s if beat_s is not None else layout.member_ttl_s / 3
        self.held: set[int] = set()
        self._kv: KeyValue | None = None
        self._key = f"{role}.{self.member}"
        self._wake = asyncio.Event()
        # each member last listed holding something: when, and what (see `_alive`)
        self._heard: dict[str, tuple[float, frozenset[int]]] = {}
        self._heard_of = False  # said I am alive at least once: may take (see `beat`)
        # the owner's claims unreadable (its store down): said once, not at every beat
        self.claims_outage = Outage(
            log,
            f"{self.member}: the store of its claims",
            "said alive all the same; asked again each beat",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until `stop`; then release everything and leave (the others take over at
        their next beat, not after the TTL)."""
        self._kv = await self._js.key_value(self.layout.members_bucket)
        try:
            failing = False
            while not stop.is_set():
                try:
                    await self.beat()
                    if failing:
                        log.info("%s: beats again", self.member)
                    failing = False
                except (nats.errors.Error, TimeoutError) as err:
                    # a node lost, all of NATS lost: the next beat tries again; told once
                    if not failing:
                        log.warning(
                            "%s: beat failed (%r); trying again at every beat, holding "
                            "partitions %s",
                            self.member,
                            err,
                            sorted(self.held),
                        )
                    failing = True
                except Exception:  # anything else: with its traceback, each time
                    log.exception("%s: beat failed", self.member)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_either(stop, self._wake), self.beat_s)
        finally:
            await self.leave()

    async def beat(self) -> None:
        """Say I am alive, let go of what another claimed, release what is no longer mine,
        take what is mine and free."""
        try:
            claimed = sorted(await self.owner.superseded() & self.held)
        except Exception as err:  # the store unreachable: say I am alive all the same
            self.claims_outage.failed(err, "checking its claims")
            claimed = []
        else:
            self.claims_outage.ok()
        for part in claimed:
            await self.owner.lose(part)
            self.held.discard(part)
        if claimed:
            log.warning("%s: partitions %s claimed by another; let go", self.member, claimed)
        await self._say()
        live = self._alive(await self.live(), asyncio.get_running_loop().time())
        live[self.member] = frozenset(self.held)
        mine = assign(live, self.layout.partitions).get(self.member, frozenset())
        lost = sorted(self.held - mine)
        for part in lost:
            await self.owner.lose(part)
            self.held.discard(part)
        if lost:
            await self._say()
            log.info("%s released partitions %s", self.member, lost)
        if not self._heard_of:  # the first beat only says I am here (two starting at once
            self._heard_of = True  # would each take all, neither listed by the other)
            return
        busy = {p for m, parts in live.items() if m != self.member for p in parts}
        gained = []
        for part in sorted(mine - self.held - busy):
            if await self.owner.gain(part):
                self.held.add(part)
                gained.append(part)
        if gained:
            await self._say()
            log.info("%s took partitions %s", self.member, gained)

    def _alive(self, listed: dict[str, frozenset[int]], now: float) -> dict[str, frozenset[int]]:
        """The members to count: those listed now, and one holding partitions at its last
        listing within the TTL though missing from this one. A listing on a loaded
        cluster can miss a live entry; taking a member for dead on one such miss handed
        its partitions round and back at every beat (the benchmark's 4 + 4 workers). A
        member that left cleanly said it held nothing before it went: gone at once."""
        for member, parts in listed.items():
            self._heard[member] = (now, parts)
        ttl = self.layout.member_ttl_s
        self._heard = {
            m: (at, parts)
            for m, (at, parts) in self._heard.items()
            if m in listed or (parts and now - at <= ttl)
        }
        return {m: parts for m, (_, parts) in self._heard.items()}

    def drop(self, part: int) -> None:
        """The owner lost `part` on its own (another worker claimed it): forget it, and
        beat soon (it is taken again if it is still ours)."""
        self.held.discard(part)
        self._wake.set()

    async def live(self) -> dict[str, frozenset[int]]:
        """The live members of my role and the partitions each says it holds."""
        kv = self._kv
        assert kv is not None
        try:
            keys = await listed_keys(kv)
        except NoKeysError:
            return {}
        prefix = f"{self.role}."
        out = {}
        for key in keys:
            if not key.startswith(prefix):
                continue
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:  # expired between the listing and the read
                continue
            if entry.value:
                out[key[len(prefix) :]] = frozenset(orjson.loads(entry.value)["held"])
        return out

    async def _say(self) -> None:
        assert self._kv is not None
        await self._kv.put(self._key, orjson.dumps({"held": sorted(self.held)}))

    async def leave(self) -> None:
        """Release every partition and take my entry out."""
        for part in sorted(self.held):
            try:
                await self.owner.lose(part)
            except Exception:
                log.exception("%s: releasing partition %d failed", self.member, part)
        self.held.clear()
        if self._kv is not None:
            with contextlib.suppress(Exception):
                await self._say()  # holding nothing: the others need not wait for the TTL
            with contextlib.suppress(Exception):
                await self._kv.delete(self._key)


async def listed_keys(kv: KeyValue) -> list[str]:
    """The bucket's keys, or TimeoutError after LIST_TIMEOUT_S. nats-py's `keys()` waits
    without a limit for its watcher's end-of-listing marker; when that never came, a
    member's beat waited for good: the member silent, its entry lapsed, its partitions
    taken over while it still held them (seen once in the membership test). A failed
    listing is a failed beat: the next one lists again."""
    return await asyncio.wait_for(kv.keys(), LIST_TIMEOUT_S)


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
