"""A publisher that is not the bottleneck: prebuilt MQTT 3.1.1 QoS 1 packets on a raw socket.

Every packet is encoded before the clock starts; sending is `sendall` of large joined
chunks, with a window of unacknowledged packets and a thread counting PUBACKs, so
the broker and the subscriber, not Python, set the pace (as `mosquitto_pub` would,
whose `-l` mode on this machine's 2.0.11 exits before its queue is sent).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass


def _varlen(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect_packet(client_id: str, keepalive_s: int = 60) -> bytes:
    """CONNECT, clean session, MQTT 3.1.1."""
    body = _utf8("MQTT") + bytes([4, 2]) + struct.pack("!H", keepalive_s) + _utf8(client_id)
    return b"\x10" + _varlen(len(body)) + body


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    """PUBLISH at QoS 1."""
    body = _utf8(topic) + struct.pack("!H", mid) + payload
    return b"\x32" + _varlen(len(body)) + body


def _connect(host: str, port: int, client_id: str) -> socket.socket:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id))
    if sock.recv(4)[:1] != b"\x20":
        raise RuntimeError("broker refused the benchmark publisher")
    return sock


def forget_session(host: str, port: int, client_id: str) -> None:
    """Connect as `client_id` with a clean session and leave: the broker drops its session.

    A persistent session left behind keeps its subscription, and the broker queues every
    later run's messages for it: each run would be slower than the one before.
    """
    sock = _connect(host, port, client_id)
    sock.sendall(b"\xe0\x00")  # DISCONNECT
    sock.close()


@dataclass(frozen=True, slots=True)
class PublishResult:
    """How long publishing took and how many the broker acknowledged."""

    messages: int
    acked: int
    seconds: float
    started: float


def publish_all(
    host: str,
    port: int,
    messages: Sequence[tuple[str, bytes]],
    *,
    client_id: str = "linli-bench-pub",
    window: int = 20_000,
    chunk: int = 500,
) -> PublishResult:
    """Publish every (topic, payload) at QoS 1 as fast as the broker acknowledges them."""
    packets = [publish_packet(t, p, i % 65535 + 1) for i, (t, p) in enumerate(messages)]
    sock = _connect(host, port, client_id)
    acked = 0
    cv = threading.Condition()

    def read_acks() -> None:
        nonlocal acked
        pending = b""
        while acked < len(packets):
            data = sock.recv(65536)
            if not data:
                return
            pending += data
            n = len(pending) // 4  # PUBACK is 4 bytes: 0x40 0x02 mid mid
            pending = pending[n * 4 :]
            with cv:
                acked += n
                cv.notify()

    reader = threading.Thread(target=read_acks, daemon=True)
    started = time.time()
    t0 = time.perf_counter()
    reader.start()
    sent = 0
    while sent < len(packets):
        with cv:
            while sent - acked > window:
                cv.wait()
        part = packets[sent : sent + chunk]
        sock.sendall(b"".join(part))
        sent += len(part)
    reader.join(120)
    seconds = time.perf_counter() - t0
    sock.close()
    return PublishResult(len(packets), acked, seconds, started)


def publish_paced(
    host: str,
    port: int,
    slots: Sequence[tuple[float, Sequence[tuple[str, bytes]]]],
    *,
    client_id: str = "linli-bench-paced",
) -> PublishResult:
    """Publish each slot's messages at its wall time (epoch seconds), QoS 1.

    Packets are encoded before the first slot, so sending a slot is one `sendall`; a
    slot whose time has passed goes at once (the lag is then part of the latency).
    """
    encoded: list[tuple[float, bytes, int]] = []
    mid = 0
    for at, messages in slots:
        packets = []
        for topic, payload in messages:
            mid = mid % 65535 + 1
            packets.append(publish_packet(topic, payload, mid))
        encoded.append((at, b"".join(packets), len(packets)))
    total = sum(n for _, _, n in encoded)
    sock = _connect(host, port, client_id)
    acked = 0

    def read_acks() -> None:
        nonlocal acked
        pending = b""
        while acked < total:
            data = sock.recv(65536)
            if not data:
                return
            pending += data
            n = len(pending) // 4
            pending = pending[n * 4 :]
            acked += n

    reader = threading.Thread(target=read_acks, daemon=True)
    reader.start()
    started = time.time()
    t0 = time.perf_counter()
    for at, chunk, _ in encoded:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)
        sock.sendall(chunk)
    reader.join(60)
    seconds = time.perf_counter() - t0
    sock.close()
    return PublishResult(total, acked, seconds, started)
