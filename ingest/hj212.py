"""The HJ 212 listener: monitors' TCP connections into the MQTT path (CONTRACT §8).

One asyncio loop in its own thread holds every connection (thousands of long-lived
ones: a protocol object, a framer and a session each, no task). Bytes become frames
(rules/hj212.py's `Framer`), frames become readings and rejections (`decode`), and
those go to the sink — the same pipeline, identity check, writer and spool an MQTT
message goes through (linli/ingestion.py). A frame's 9014 answer is written only
once the writer says its batch is durable, as MQTT's PUBACK; a refused frame is a
rejected record and gets none.

A session belongs to an MN: a connection that sends a good frame for an MN another
connection holds replaces it. A connection silent for `idle_s`, or sending nothing
but junk for `max_junk_bytes`, is closed. While the writer's queue is full no
connection is read (the devices' TCP windows hold the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Protocol

from linli.rules.hj212 import Decoded, Frame, Framer, Session, decode, junk_rejection
from linli.rules.hj212_profile import Hj212Registry
from linli.rules.rejection import ReasonCode

log = logging.getLogger(__name__)

# Rejections of these do not say the frame came from its MN's device.
_NOT_THEIRS = frozenset({ReasonCode.BAD_CRC, ReasonCode.BAD_PASSWORD, ReasonCode.UNKNOWN_DEVICE})


class FrameSink(Protocol):
    """Where judged frames go: the ingest pipeline (linli/ingestion.py)."""

    def accept_frame(
        self,
        decoded: Decoded,
        payload: bytes,
        received_ms: int,
        done: Callable[[], None] | None,
    ) -> None:
        """Store the frame's readings and rejections; call `done` once they are durable."""
        ...

    def ready(self) -> bool:
        """Whether more may be accepted now (the writer's queue has room)."""
        ...

    def tick(self, now_ms: int) -> None:
        """Hand on a batch old enough, as the MQTT loop does."""
        ...


@dataclass(slots=True)
class ListenerStats:
    """Counters since start."""

    connections: int = 0
    frames: int = 0
    refused: int = 0
    answered: int = 0
    replaced: int = 0
    idle_closed: int = 0
    junk_closed: int = 0
    # uploads of a data CN other than the profile's `readings`: answered, not stored
    other_stream: int = 0
    other_stream_by_sensor: dict[str, int] = field(default_factory=dict)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Conn(asyncio.Protocol):
    """One monitor's connection."""

    __slots__ = ("framer", "last_rx", "listener", "mn", "sensor", "session", "transport")

    def __init__(self, listener: Hj212Listener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.framer = Framer()
        self.session = Session()
        self.mn: str | None = None
        self.sensor: str | None = None
        self.last_rx = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.last_rx = time.monotonic()
        self.listener._opened(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        self.listener._received(self, data)

    def eof_received(self) -> bool | None:
        return None  # close

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener._closed(self)

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Hj212Listener:
    """Listens on `host:port` in a thread of its own until `stop()`."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: Hj212Registry,
        sink: FrameSink,
        *,
        tz: tzinfo,
        idle_s: float = 600.0,
        max_junk_bytes: int = 64 * 1024,
        tick_s: float = 0.05,
    ) -> None:
        self.host = host
        self.port = port
        self._registry = registry
        self._sink = sink
        self._tz = tz
        self._idle_s = idle_s
        self._max_junk = max_junk_bytes
        self._tick_s = tick_s
        self.stats = ListenerStats()
        self._conns: set[_Conn] = set()
        self._sessions: dict[str, _Conn] = {}
        self._answers: deque[tuple[_Conn, Sequence[bytes]]] = deque()
        self._wake_pending = False
        self._paused = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    # --- lifecycle (any thread) -----------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> Hj212Listener:
        """Listen in a background thread; returns once listening (`port` then bound)."""
        self._thread = threading.Thread(target=self._run, name="linli-hj212", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise TimeoutError(f"HJ 212 listener not up within {timeout_s}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop listening and close every connection (what is unanswered is sent again)."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def connections(self) -> int:
        """Open connections."""
        return len(self._conns)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as err:  # reported to start(), or logged
            self._error = err
            self._started.set()
            log.exception("HJ 212 listener stopped")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._server = await self._loop.create_server(
            lambda: _Conn(self), self.host, self.port, backlog=1024, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("HJ 212 monitors on %s:%s", self.host, self.port)
        self._started.set()
        ticker = asyncio.create_task(self._ticks())
        try:
            await self._stopped.wait()
        finally:
            ticker.cancel()
            self._server.close()
            for conn in list(self._conns):
                conn.close()
            await asyncio.sleep(0)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    # --- the loop's thread ------------------------------------------------------------------

    async def _ticks(self) -> None:
        sweep_at = time.monotonic() + 1.0
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                self._sink.tick(_now_ms())
                if self._paused and self._sink.ready():
                    self._resume()
                self._send_answers()
                now = time.monotonic()
                if now >= sweep_at:
                    sweep_at = now + 1.0
                    self._close_idle(now)
            except Exception:  # never stop the listener for one bad turn
                log.exception("HJ 212 listener tick failed")

    def _opened(self, conn: _Conn) -> None:
        self._conns.add(conn)
        self.stats.connections += 1
        if self._paused and conn.transport is not None:
            conn.transport.pause_reading()

    def _closed(self, conn: _Conn) -> None:
        self._conns.discard(conn)
        if conn.mn is not None and self._sessions.get(conn.mn) is conn:
            del self._sessions[conn.mn]
        leftover = [j for j in conn.framer.close() if not isinstance(j, Frame)]
        if leftover:
            received_ms = _now_ms()
            rejections = [junk_rejection(j, received_ms, conn.mn, conn.sensor) for j in leftover]
            self._hand_on(Decoded(mn=conn.mn, rejections=rejections), b"", received_ms, None)

    def _received(self, conn: _Conn, data: bytes) -> None:
        received_ms = _now_ms()
        try:
            items = conn.framer.feed(data)
        except Exception:  # a bug must not stop the listener: drop the connection
            log.exception("HJ 212 framing failed; closing the connection")
            conn.close()
            return
        for item in items:
            if isinstance(item, Frame):
                self._frame(conn, item, received_ms)
            else:
                rejection = junk_rejection(item, received_ms, conn.mn, conn.sensor)
                decoded = Decoded(mn=conn.mn, rejections=[rejection])
                self._hand_on(decoded, item.raw, received_ms, None)
        if conn.framer.junk_bytes > self._max_junk:
            log.warning(
                "HJ 212 connection from %s sent %d bytes with no frame; closing it",
                conn.mn or "an unknown device",
                conn.framer.junk_bytes,
            )
            self.stats.junk_closed += 1
            conn.close()
        if not self._paused and not self._sink.ready():
            self._pause()

    def _frame(self, conn: _Conn, frame: Frame, received_ms: int) -> None:
        self.stats.frames += 1
        try:
            decoded = decode(frame, self._registry, conn.session, received_ms, self._tz)
        except Exception:  # the codec never raises on input; a registry error might
            log.exception("could not judge an HJ 212 frame; not answered (it is sent again)")
            return
        if decoded.sensor is not None and not any(
            r.reason in _NOT_THEIRS for r in decoded.rejections
        ):
            self._own(conn, decoded)
        if decoded.rejections:
            self.stats.refused += 1
        if decoded.other_stream and decoded.sensor is not None:
            stats = self.stats
            stats.other_stream += 1
            by = stats.other_stream_by_sensor
            by[decoded.sensor] = by.get(decoded.sensor, 0) + 1
        for reply in decoded.replies:
            conn.write(reply)
        done = None
        if decoded.answers:
            answers = decoded.answers
            done = lambda: self._answer_when_durable(conn, answers)  # noqa: E731
        self._hand_on(decoded, frame.raw, received_ms, done)

    def _own(self, conn: _Conn, decoded: Decoded) -> None:
        """The session of this MN is this connection's from now on."""
        mn = decoded.mn
        assert mn is not None
        if conn.mn != mn:
            if conn.mn is not None and self._sessions.get(conn.mn) is conn:
                del self._sessions[conn.mn]
            conn.mn, conn.sensor = mn, decoded.sensor
        old = self._sessions.get(mn)
        if old is not conn:
            self._sessions[mn] = conn
            if old is not None:
                self.stats.replaced += 1
                log.info("HJ 212 monitor %s reconnected; closing its old connection", mn)
                old.mn = None
                old.close()

    def _hand_on(
        self, decoded: Decoded, payload: bytes, received_ms: int, done: Callable[[], None] | None
    ) -> None:
        if not decoded.readings and not decoded.rejections and done is None:
            return
        self._sink.accept_frame(decoded, payload, received_ms, done)

    def _pause(self) -> None:
        self._paused = True
        for conn in self._conns:
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.pause_reading()

    def _resume(self) -> None:
        self._paused = False
        for conn in self._conns:
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.resume_reading()

    def _close_idle(self, now: float) -> None:
        limit = now - self._idle_s
        for conn in [c for c in self._conns if c.last_rx < limit]:
            log.info("HJ 212 connection of %s idle for %.0fs; closing it", conn.mn, self._idle_s)
            self.stats.idle_closed += 1
            conn.close()

    # --- answers: from the writer's thread -------------------------------------------------

    def _answer_when_durable(self, conn: _Conn, answers: Sequence[bytes]) -> None:
        """Any thread: the frame's readings are durable; its 9014 may go."""
        self._answers.append((conn, answers))
        if not self._wake_pending and self._loop is not None:
            self._wake_pending = True
            with contextlib.suppress(RuntimeError):  # the loop is closing: sent again
                self._loop.call_soon_threadsafe(self._send_answers)

    def _send_answers(self) -> None:
        self._wake_pending = False
        answers = self._answers
        while answers:
            conn, frames = answers.popleft()
            for frame in frames:
                conn.write(frame)
            self.stats.answered += 1
