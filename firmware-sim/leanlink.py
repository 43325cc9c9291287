"""A shared-mode connection that speaks MQTT 3.1.1 itself, for 10,000 readings a second.

paho builds about ten Python objects per QoS 1 message and reads each PUBACK with three
recv calls; at 10,000 readings a second that is half a core. A shared link publishes
for thousands of sensors on one socket, so here topics are encoded once, a burst of
PUBLISH packets leaves in one send, and PUBACKs are read in bulk (packets.py). It keeps
what the contract needs: QoS 1 with resend (DUP) after a reconnect, retained status,
the config subscription, keepalive, TLS. Per-device links stay on paho (link.py).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from . import packets
from .link import KEEPALIVE_S, BaseLink, Endpoint, LinkHandler, Will

if TYPE_CHECKING:
    from .reactor import Reactor

_WOULD_BLOCK: Final = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
_MAX_MID: Final = 65535


class LeanLink(BaseLink):
    """One MQTT 3.1.1 connection without paho: prebuilt topics, batched sends, bulk acks."""

    def __init__(
        self,
        reactor: Reactor,
        endpoint: Endpoint,
        client_id: str,
        handler: LinkHandler,
        *,
        username: str | None = None,
        password: str | None = None,
        will: Will | None = None,
        subscriptions: Sequence[str] = (),
        members: Sequence[int] = (),
        keepalive_s: int = KEEPALIVE_S,
        connect_timeout_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(reactor, client_id, handler, subscriptions, members)
        self.endpoint = endpoint
        self.keepalive_s = keepalive_s
        self.connect_timeout_s = connect_timeout_s
        self._monotonic = monotonic
        self._connect_packet = packets.connect(
            client_id, keepalive_s, username, password,
            (will.topic, will.payload) if will else None,
        )  # fmt: skip
        self._sock: socket.socket | None = None
        self._inbuf = bytearray()
        self._out: list[bytes] = []
        self._pending: memoryview | None = None  # the unsent rest of the last send
        self._dirty = False
        self._closing = False
        self._closed_at: float | None = None  # DISCONNECT sent, waiting for the broker's EOF
        self._connack = False
        self._connected_at = 0.0
        self._last_out = 0.0
        self._ping_at: float | None = None
        self._inflight: dict[int, bytes] = {}  # QoS 1 packets by mid, until their PUBACK
        self._next_mid = 1
        self._topics: dict[str, bytes] = {}

    def socket(self) -> Any | None:
        """The open socket, for the reactor's selector."""
        return self._sock

    def connect(self) -> bool:
        """Open the TCP (and TLS) connection and queue CONNECT; False if that failed."""
        e = self.endpoint
        try:
            sock = socket.create_connection((e.host, e.port), timeout=self.connect_timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if e.tls:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=e.host)
            sock.setblocking(False)
        except OSError as err:
            self.fail(f"connect: {err}")
            return False
        self._sock = sock
        self._closing = self._connack = False
        self._closed_at = None
        self._connected_at = self._last_out = self._monotonic()
        self.reactor.register(sock, self)
        self._queue(self._connect_packet)
        return True

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> bool:
        """Send a telemetry message (counted towards sent/acked)."""
        mid = self._send(topic, payload, qos, retain)
        if mid < 0:
            return False
        self.sent += 1
        return True

    def notify(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Send a status or health message (not counted as telemetry)."""
        mid = self._send(topic, payload, qos, retain)
        if mid > 0:
            self._uncounted.add(mid)
        return mid >= 0

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> int:
        if self._sock is None or not self._connack:
            self.fail(f"publish {topic}: not connected")
            return -1
        encoded = self._topics.get(topic)
        if encoded is None:
            encoded = self._topics[topic] = packets.utf8(topic)
        mid = 0
        if qos:
            mid = self._allocate_mid()
            if not mid:
                self.fail(f"publish {topic}: {_MAX_MID} messages unacknowledged")
                return -1
        packet = packets.publish(encoded, payload, qos, retain, mid)
        if qos:
            self._inflight[mid] = packet
        self._queue(packet)
        return mid

    def _allocate_mid(self) -> int:
        mid, inflight = self._next_mid, self._inflight
        for _ in range(_MAX_MID):
            if mid not in inflight:
                self._next_mid = mid % _MAX_MID + 1
                return mid
            mid = mid % _MAX_MID + 1
        return 0

    def _queue(self, packet: bytes) -> None:
        self._out.append(packet)
        if not self._dirty:
            self._dirty = True
            self.reactor.want_write(self)

    def write(self) -> None:
        """Send what is queued, as few sends as the socket allows."""
        sock = self._sock
        if sock is None:
            return
        while self._pending is not None or self._out:
            if self._pending is None:
                self._pending = memoryview(b"".join(self._out))
                self._out.clear()
            try:
                sent = sock.send(self._pending)
            except _WOULD_BLOCK:
                return  # still dirty: the reactor waits for EVENT_WRITE
            except OSError as err:
                self._lost(f"send: {err}")
                return
            self._last_out = self._monotonic()
            self._pending = self._pending[sent:] if sent < len(self._pending) else None
        self._dirty = False
        self.reactor.written(sock, self)
        if self._closing:
            # DISCONNECT is out: half-close and let read() see the broker close its end,
            # so nothing it has not read yet is lost to a reset.
            self._closing = False
            self._closed_at = self._monotonic()
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._lost("closed")

    def read(self) -> None:
        """Read what arrived: PUBACKs in bulk, then CONNACK, SUBACK, PUBLISH, PINGRESP."""
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(1 << 16)
        except _WOULD_BLOCK:
            return
        except OSError as err:
            self._lost(f"recv: {err}")
            return
        if not data:
            self._lost("closed" if self.hold else "connection closed by the broker")
            return
        self._inbuf += data
        try:
            acks, others = packets.split(self._inbuf)
        except ValueError as err:
            self._lost(str(err))
            return
        if acks:
            self._acknowledge(acks)
        for kind, flags, body in others:
            self._handle(kind, flags, body)

    def _acknowledge(self, mids: list[int]) -> None:
        inflight, uncounted, acked = self._inflight, self._uncounted, 0
        for mid in mids:
            if inflight.pop(mid, None) is None:
                continue  # a PUBACK for a resent message already acknowledged
            if uncounted and mid in uncounted:
                uncounted.discard(mid)
            else:
                acked += 1
        self.acked += acked

    def _handle(self, kind: int, flags: int, body: bytes) -> None:
        if kind == packets.CONNACK:
            if len(body) < 2 or body[1] != 0:
                code = body[1] if len(body) > 1 else -1
                self._lost(f"connection refused: CONNACK return code {code}")
                return
            self._connack = True
            # At least once (MQTT 3.1.1 §4.4): what was not acknowledged goes again.
            for packet in self._inflight.values():
                self._queue(packets.as_duplicate(packet))
            if self.subscriptions:
                self._queue(packets.subscribe(self._allocate_mid() or 1, self.subscriptions))
            else:
                self._become_ready()
        elif kind == packets.SUBACK:
            if any(code == 0x80 for code in body[2:]):
                self.fail(f"subscription to {', '.join(self.subscriptions)} refused")
            self._become_ready()
        elif kind == packets.PUBLISH:
            topic, qos, payload, mid = packets.parse_publish(flags, body)
            if qos:
                self._queue(packets.puback(mid))
            self.handler.link_message(self, topic, payload)
        elif kind == packets.PINGRESP:
            self._ping_at = None

    def misc(self) -> None:
        """Keepalive (MQTT 3.1.1 §3.1.2.10) and the CONNACK timeout."""
        if self._sock is None:
            return
        now = self._monotonic()
        if self._closed_at is not None:
            if now - self._closed_at > self.connect_timeout_s:
                self._lost("closed")
        elif not self._connack and now - self._connected_at > self.connect_timeout_s:
            self._lost("no CONNACK")
        elif self._ping_at is not None and now - self._ping_at > self.keepalive_s:
            self._lost("no PINGRESP")
        elif self._ping_at is None and now - self._last_out >= self.keepalive_s * 0.75:
            self._ping_at = now
            self._queue(packets.PINGREQ_PACKET)

    def drop(self) -> None:
        """Lose the connection without DISCONNECT."""
        self.hold = True
        self._lost("dropped")

    def close(self) -> None:
        """Send DISCONNECT, then close once it is written."""
        self.hold = True
        if self._sock is None:
            return
        if not self._connack:
            self._lost("closed before CONNACK")
            return
        self._closing = True
        self._queue(packets.DISCONNECT_PACKET)

    def _lost(self, reason: str) -> None:
        if self._sock is None:
            return
        was_ready = self.ready
        self._close_socket()
        if was_ready:
            self.handler.link_lost(self)
        if not self.hold:
            self.fail(reason)
            self.reactor.schedule_connect(self, self.reactor.retry_s)

    def _close_socket(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            self.reactor.unregister(sock, self)
            sock.close()
        self.ready = False
        self._inbuf.clear()
        self._out.clear()  # QoS 1 packets stay in _inflight for the resend
        self._pending = None
        self._dirty = False
        self._connack = False
        self._closing = False
        self._closed_at = None
        self._ping_at = None
