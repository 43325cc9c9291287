"""The MQTT side of ingest: one persistent QoS 1 session, manual acknowledgement.

Like aiomqtt, paho is driven through its external-loop API (`loop_read`,
`loop_write`, `loop_misc`) from one select loop that we own: the message callback
only hands off to the pipeline, and acknowledgements come back from the writer
thread through a queue and a wake-up pipe. Backpressure is explicit: while the
writer's queue is full the loop stops reading the socket, keeps the session alive
with pings, and the broker holds (and persists) what has not been read.

For throughput the socket is wrapped so that paho's one-byte header reads are served
from a user-space buffer and its many small PUBACK writes leave in one `send`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

log = logging.getLogger(__name__)

_PUBACK = b"\x40\x02"  # MQTT 3.1.1 §3.4: PUBACK, remaining length 2, then the packet id

Handler = Callable[[str, bytes, int, int], None]  # topic, payload, mid (0 = QoS 0), received_ms


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """Where the broker is and how to log in."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None


class _BufferedSocket:
    """A socket whose small reads come from a buffer and whose writes are coalesced.

    paho asks for `pending()` on SSL-like sockets and skips select() while it is
    non-zero, which is what lets a buffered read path work with its loop.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._in = b""
        self._pos = 0
        self._out = bytearray()

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._in):
            self._in = self._sock.recv(max(size, 262144))
            self._pos = 0
            if not self._in:
                return b""
        chunk = self._in[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk

    def pending(self) -> int:
        return len(self._in) - self._pos

    def send(self, data: bytes | bytearray) -> int:
        self._out += data
        if len(self._out) >= 65536:
            self.flush()
        return len(data)

    def has_output(self) -> bool:
        return bool(self._out)

    def flush(self) -> None:
        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError):
                return
            del self._out[:sent]

    def close(self) -> None:
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Client(paho.Client):
    def _create_socket(self) -> Any:  # paho-mqtt 2.x internal; see module docstring
        return _BufferedSocket(super()._create_socket())


class MqttSource:
    """Receives every message under the subscriptions and acknowledges on request."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        client_id: str,
        subscriptions: Sequence[str],
        handler: Handler,
        *,
        on_new_session: Callable[[int], None] = lambda epoch: None,
        keepalive_s: int = 30,
    ) -> None:
        self._endpoint = endpoint
        self._subscriptions = list(subscriptions)
        self._handler = handler
        self._on_new_session = on_new_session
        self._acks: deque[tuple[int, Sequence[int]]] = deque()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.epoch = 0
        self.connected = False
        self.subscribed = threading.Event()
        self.received = 0
        self.acked = 0
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # a persistent session: the broker keeps what we did not ack
            protocol=paho.MQTTv311,
            manual_ack=True,
        )
        if endpoint.username:
            client.username_pw_set(endpoint.username, endpoint.password)
        if endpoint.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.connect_async(endpoint.host, endpoint.port, keepalive=keepalive_s)
        self._client = client

    # --- called from other threads -------------------------------------------------

    def ack(self, epoch: int, mids: Sequence[int]) -> None:
        """Acknowledge these message ids of connection `epoch` (thread-safe)."""
        self._acks.append((epoch, mids))
        with contextlib.suppress(BlockingIOError):  # full pipe: the loop is already awake
            os.write(self._wake_w, b"a")

    # --- paho callbacks: hand off only -----------------------------------------------

    def _on_connect(self, client: paho.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection: %s", rc)
            return
        self.connected = True
        log.info(
            "connected to %s:%s (session present: %s)",
            self._endpoint.host,
            self._endpoint.port,
            flags.session_present,
        )
        for sub in self._subscriptions:
            client.subscribe(sub, qos=1)

    def _on_subscribe(self, *_: Any) -> None:
        log.info("subscribed to %s", ", ".join(self._subscriptions))
        self.subscribed.set()

    def _on_disconnect(self, _c: paho.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connected = False
        log.warning("disconnected from the broker: %s", rc)

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            topic = message.topic
        except UnicodeDecodeError:
            topic = message._topic.decode("utf-8", "replace")
        self.received += 1
        self._handler(
            topic,
            bytes(message.payload),
            message.mid if message.qos else 0,
            time.time_ns() // 1_000_000,
        )

    # --- the loop ---------------------------------------------------------------------

    def run(
        self,
        stop: threading.Event,
        *,
        can_read: Callable[[], bool],
        tick: Callable[[int], None],
        tick_s: float = 0.05,
        burst: int = 2000,
    ) -> None:
        """Run until `stop` is set: read while `can_read()`, call `tick(now_ms)` often."""
        client = self._client
        while not stop.is_set():
            if not self.connected and not self._connect(stop):
                continue
            sock: _BufferedSocket = client.socket()  # type: ignore[assignment]
            readable = can_read()
            rlist: list[Any] = [self._wake_r]
            if readable:
                rlist.append(sock)
            wlist = [sock] if (client.want_write() or sock.has_output()) else []
            timeout = 0.0 if readable and sock.pending() else tick_s
            try:
                r, _w, _x = select.select(rlist, wlist, [], timeout)
            except (OSError, ValueError):
                self._lost("select failed")
                continue
            if readable and (sock in r or sock.pending()):
                for _ in range(burst):
                    rc = client.loop_read()
                    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or client.socket() is None:
                        self._lost(f"read: {rc}")
                        break
                    if not sock.pending() or not can_read():
                        break
                if not self.connected:
                    continue
            if self._wake_r in r:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)
            self._send_acks()
            tick(time.time_ns() // 1_000_000)
            if client.want_write():
                client.loop_write()
            sock.flush()
            if client.loop_misc() != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._lost("keepalive")
        self._send_acks()
        sock = client.socket()  # type: ignore[assignment]
        if sock is not None:
            sock.flush()
        client.disconnect()

    def _send_acks(self) -> None:
        sock = self._client.socket()
        while self._acks:
            epoch, mids = self._acks.popleft()
            if epoch != self.epoch or not self.connected or sock is None:
                log.debug("dropped %d acknowledgements of epoch %d", len(mids), epoch)
                continue  # an old connection's ids: the broker will redeliver those messages
            # The PUBACKs of a whole batch leave as one write. With manual_ack paho keeps
            # no state for an incoming QoS 1 message, so writing the 4-byte PUBACK here
            # (MQTT 3.1.1 §3.4) is what `client.ack(mid, 1)` would put on the wire,
            # without its per-message wake-up syscall.
            sock.send(b"".join([_PUBACK + mid.to_bytes(2, "big") for mid in mids]))
            self.acked += len(mids)
            log.debug("acknowledged %d messages of epoch %d", len(mids), epoch)

    def _lost(self, why: str) -> None:
        if self.connected:
            log.warning("connection to the broker lost (%s)", why)
        self.connected = False  # paho closed the socket; reconnect() opens a new one

    def _connect(self, stop: threading.Event) -> bool:
        """(Re)connect with backoff; a new connection starts a new ack epoch."""
        delay = 0.2
        while not stop.is_set():
            try:
                self._client.reconnect()
            except (TimeoutError, OSError) as err:
                log.warning(
                    "cannot reach the broker at %s:%s (%s); retrying in %.1fs",
                    self._endpoint.host,
                    self._endpoint.port,
                    err,
                    delay,
                )
                stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.epoch += 1
            self._on_new_session(self.epoch)
            sock = self._client.socket()
            if isinstance(sock, _BufferedSocket):
                sock.flush()
            self.connected = True  # the socket is open; CONNACK arrives through the loop
            return True
        return False
