"""A request must arrive whole within a time: uvicorn's h11 protocol with a read timeout.

uvicorn's `timeout_keep_alive` runs only between a finished answer and the next request's
first byte: a connection that sends nothing, or half a request head, or a body slower
than it announced, would be held open as long as the client liked (3,000 half-sent
requests could be held for 70 s). Here every request cycle has a deadline, from the connection's
opening (or the previous answer) until its head and body are read: when it passes the
connection is closed. The app's own time to answer is not counted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# h11's states of the client while its request is being read
_READ: frozenset[type] = frozenset({h11.IDLE, h11.SEND_BODY})


def timed_h11(request_timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol closing a connection whose request is not read in time."""

    class TimedH11Protocol(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._read_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state not in _READ:
                self._disarm()  # read whole (or failed): the app's time is its own

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state in _READ:
                self._arm()  # the next request on this connection: a deadline of its own

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._read_deadline = self.loop.call_later(request_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._read_deadline is not None:
                self._read_deadline.cancel()
                self._read_deadline = None

        def _too_slow(self) -> None:
            self._read_deadline = None
            if self.conn.their_state in _READ and not self.transport.is_closing():
                self.logger.info("closing %s: its request was not read in time", self.client)
                self.transport.close()

    return TimedH11Protocol
