"""A lease in the leases bucket: one holder at a time (the one active notifier).

The holder writes the key when it is absent (`create`: only one of several succeeds),
then renews it by revision (`update`: fails if anyone else wrote it) every third of the
bucket's TTL. A holder that could not renew within half the TTL stops counting itself the
holder (`held` turns False) before the TTL lets another take it, so two never send at
once unless a renewal stalls for the whole difference. A standby tries to create the key
at each beat and takes over once the TTL has removed the lapsed holder's entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from linli.cluster.layout import Layout
from linli.cluster.link import Link

log = logging.getLogger(__name__)


class Lease:
    """One contender for the lease `name`, held while `held()` says so."""

    def __init__(self, kv: KeyValue, name: str, holder: str, ttl_s: float) -> None:
        self._kv = kv
        self.name = name
        self.holder = holder
        self.ttl_s = ttl_s
        self._revision: int | None = None
        self._renewed = 0.0  # monotonic time of the last successful write
        self._failing = False  # the last write failed (told once)

    def held(self) -> bool:
        """Whether this contender holds the lease now."""
        return self._revision is not None and time.monotonic() - self._renewed < self.ttl_s / 2

    async def beat(self) -> bool:
        """Renew the lease if held, else try to take it; whether it is held now."""
        try:
            if self._revision is None:
                self._revision = await self._kv.create(self.name, self.holder.encode())
                log.info("%s: took the lease %s", self.holder, self.name)
            else:
                self._revision = await self._kv.update(
                    self.name, self.holder.encode(), last=self._revision
                )
            self._renewed = time.monotonic()
            if self._failing:
                log.info("%s: lease %s written again", self.holder, self.name)
                self._failing = False
        except KeyWrongLastSequenceError:  # someone else holds it (or took it over)
            if self._revision is not None:
                log.warning("%s: lost the lease %s", self.holder, self.name)
            self._revision = None
        except Exception as err:  # a node lost, a timeout: `held` lapses on its own
            if not self._failing:  # told once, not at every beat of an outage
                log.warning("%s: lease %s not written: %r", self.holder, self.name, err)
                self._failing = True
        return self.held()

    async def release(self) -> None:
        """Give the lease up (a clean stop): the standby takes it at its next beat."""
        if self._revision is not None:
            with contextlib.suppress(Exception):
                await self._kv.delete(self.name, last=self._revision)
        self._revision = None


class LeaseThread:
    """A lease kept by a thread of its own (its own NATS connection and event loop), for a
    process whose other parts are not async (the API with the delivery worker)."""

    def __init__(self, servers: list[str], layout: Layout, name: str, holder: str) -> None:
        self._layout = layout
        self._name = name
        self._holder = holder
        self._link = Link(servers, f"{holder} ({name} lease)")
        self._lease: Lease | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"linli-lease-{name}", daemon=True)

    def held(self) -> bool:
        """Whether this process holds the lease now."""
        return self._lease is not None and self._lease.held()

    def start(self) -> LeaseThread:
        """Contend in the background."""
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Release the lease and stop."""
        self._stop.set()
        self._thread.join(timeout_s)

    def _main(self) -> None:
        asyncio.run(self._run())

    def nats_up(self) -> bool:
        """Whether its connection to NATS is up now (the API's /health, in a cluster)."""
        return self._link.up()

    async def _run(self) -> None:
        nc = await self._link.connect()
        assert nc is not None  # no stop event: it tries until it is connected
        try:
            kv = await nc.jetstream().key_value(self._layout.leases_bucket)
            self._lease = Lease(kv, self._name, self._holder, self._layout.member_ttl_s)
            while not self._stop.is_set():
                await self._lease.beat()
                await asyncio.get_running_loop().run_in_executor(
                    None, self._stop.wait, self._layout.member_ttl_s / 3
                )
            await self._lease.release()
        finally:
            await self._link.close()
