"""A process's connection to NATS, its ups and downs each told once in the log.

nats-py keeps trying (every server, every `RECONNECT_WAIT_S`) when asked to try for ever,
at the first connection too, and calls back on every failed attempt: a worker started
before NATS, or losing it for a minute, would log a line every two seconds, or nothing
useful. `Link` logs the first failure, the loss and the return (with how long it was
gone), and answers `up()` for /health (CONTRACT §12). Nothing is acknowledged while NATS
is gone: acknowledgements travel over this connection.
"""

from __future__ import annotations

import asyncio
import logging
import time

import nats
import nats.errors
from nats.aio.client import Client

RECONNECT_WAIT_S = 2.0
# what nats-py reports as an error when a connection ends (a disconnect follows)
LOSS = (
    OSError,
    TimeoutError,
    nats.errors.UnexpectedEOF,
    nats.errors.StaleConnectionError,
    nats.errors.ConnectionClosedError,
)

log = logging.getLogger(__name__)


class Link:
    """One connection to the servers of LINLI_NATS_URL, for `who` (a worker, the API)."""

    def __init__(self, servers: list[str], who: str) -> None:
        self.servers = servers
        self.who = who
        self.nc: Client | None = None
        self._down_since: float | None = time.monotonic()  # not connected yet
        self._told = False
        self._closing = False

    def up(self) -> bool:
        """Connected to a server now."""
        return self.nc is not None and self.nc.is_connected

    def down_for_s(self) -> float:
        """How long NATS has been out of reach (0 while connected)."""
        since = self._down_since
        return 0.0 if since is None else time.monotonic() - since

    async def connect(self, stop: asyncio.Event | None = None) -> Client | None:
        """Connected (trying again until it is), or None when `stop` came first."""
        connecting = asyncio.ensure_future(
            nats.connect(
                self.servers,
                max_reconnect_attempts=-1,  # for ever, the first connection included
                reconnect_time_wait=RECONNECT_WAIT_S,
                error_cb=self._error,
                disconnected_cb=self._disconnected,
                reconnected_cb=self._reconnected,
            )
        )
        if stop is not None:
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait([connecting, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not connecting.done():
                connecting.cancel()
                return None
        self.nc = await connecting
        self._back("connected to")
        return self.nc

    async def close(self) -> None:
        """Close the connection (no loss is told for it)."""
        self._closing = True
        if self.nc is not None:
            await self.nc.close()

    def _back(self, verb: str) -> None:
        away = self.down_for_s()
        url = self.nc.connected_url if self.nc is not None else None
        where = url.netloc if url is not None else ",".join(self.servers)
        if self._told:
            log.info("%s: %s NATS at %s after %.0f s out of reach", self.who, verb, where, away)
        else:
            log.info("%s: %s NATS at %s", self.who, verb, where)
        self._down_since = None
        self._told = False

    async def _error(self, err: Exception) -> None:
        if self._down_since is None:
            if isinstance(err, LOSS):  # the connection's end: told by `_disconnected`
                log.debug("%s: NATS: %r", self.who, err)
            else:  # an error of the protocol, told as it comes
                log.warning("%s: NATS: %s", self.who, err or type(err).__name__)
            return
        if not self._told:
            self._told = True
            log.warning(
                "%s: NATS unreachable at %s (%s); trying again every %.0f s",
                self.who,
                ",".join(self.servers),
                err or type(err).__name__,
                RECONNECT_WAIT_S,
            )

    async def _disconnected(self) -> None:
        if self._closing or self._down_since is not None:
            return
        self._down_since = time.monotonic()
        self._told = True
        log.warning(
            "%s: lost its connection to NATS; trying again every %.0f s",
            self.who,
            RECONNECT_WAIT_S,
        )

    async def _reconnected(self) -> None:
        self._back("back on")
