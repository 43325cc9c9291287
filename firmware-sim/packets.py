"""The few MQTT 3.1.1 packets the lean link sends and reads (OASIS MQTT 3.1.1, §2–3)."""

from __future__ import annotations

import struct
from typing import Final

# Control packet types (MQTT 3.1.1 §2.2.1), the high nibble of the first byte.
CONNACK: Final = 2
PUBLISH: Final = 3
PUBACK: Final = 4
SUBACK: Final = 9
PINGRESP: Final = 13

PINGREQ_PACKET: Final = b"\xc0\x00"
DISCONNECT_PACKET: Final = b"\xe0\x00"
_DUP: Final = 0x08
# The first byte of a PUBLISH by (qos, retain) (MQTT 3.1.1 §3.3.1).
_PUBLISH_FIRST: Final = {(q, r): bytes((0x30 | q << 1 | r,)) for q in (0, 1, 2) for r in (0, 1)}


def varlen(n: int) -> bytes:
    """The remaining-length field (MQTT 3.1.1 §2.2.3): 7 bits a byte, high bit = more."""
    if n < 128:
        return bytes((n,))
    if n < 16384:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (128 if n else 0))
        if not n:
            return bytes(out)


def utf8(text: str) -> bytes:
    """A length-prefixed UTF-8 string (MQTT 3.1.1 §1.5.3)."""
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def connect(
    client_id: str,
    keepalive_s: int,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes] | None = None,
) -> bytes:
    """CONNECT with a clean session (MQTT 3.1.1 §3.1); the will, if any, is QoS 1 and retained."""
    flags = 0x02
    payload = utf8(client_id)
    if will is not None:
        flags |= 0x04 | (1 << 3) | 0x20
        payload += utf8(will[0]) + struct.pack("!H", len(will[1])) + will[1]
    if username is not None:
        flags |= 0x80
        payload += utf8(username)
        if password is not None:
            flags |= 0x40
            payload += utf8(password)
    body = utf8("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive_s) + payload
    return b"\x10" + varlen(len(body)) + body


def subscribe(mid: int, topics: tuple[str, ...], qos: int = 1) -> bytes:
    """SUBSCRIBE (MQTT 3.1.1 §3.8)."""
    body = struct.pack("!H", mid) + b"".join(utf8(t) + bytes((qos,)) for t in topics)
    return b"\x82" + varlen(len(body)) + body


def publish(topic: bytes, payload: bytes, qos: int, retain: bool, mid: int) -> bytes:
    """PUBLISH (MQTT 3.1.1 §3.3); `topic` is already length-prefixed (see `utf8`)."""
    first = _PUBLISH_FIRST[qos, retain]
    if qos:
        size = len(topic) + 2 + len(payload)
        return b"".join((first, varlen(size), topic, mid.to_bytes(2, "big"), payload))
    return b"".join((first, varlen(len(topic) + len(payload)), topic, payload))


def as_duplicate(packet: bytes) -> bytes:
    """The same PUBLISH with the DUP flag set, resent after reconnecting (MQTT 3.1.1 §3.3.1.1)."""
    return bytes((packet[0] | _DUP,)) + packet[1:]


def puback(mid: int) -> bytes:
    """PUBACK (MQTT 3.1.1 §3.4)."""
    return b"\x40\x02" + mid.to_bytes(2, "big")


def split(buffer: bytearray) -> tuple[list[int], list[tuple[int, int, bytes]]]:
    """Consume the complete packets at the front of `buffer`.

    Returns the message ids of the PUBACKs (the bulk of what a publisher reads, so they
    take a short path) and every other packet as (type, flags, body).
    """
    acks: list[int] = []
    others: list[tuple[int, int, bytes]] = []
    pos, end = 0, len(buffer)
    while pos + 2 <= end:
        first = buffer[pos]
        if first == 0x40 and buffer[pos + 1] == 2:  # PUBACK, remaining length 2
            if pos + 4 > end:
                break
            acks.append((buffer[pos + 2] << 8) | buffer[pos + 3])
            pos += 4
            continue
        size, shift, i = 0, 0, pos + 1
        complete = False
        while i < end:
            byte = buffer[i]
            size |= (byte & 0x7F) << shift
            i += 1
            if not byte & 0x80:
                complete = True
                break
            shift += 7
            if shift > 21:
                raise ValueError("malformed remaining length")
        if not complete or i + size > end:
            break
        others.append((first >> 4, first & 0x0F, bytes(buffer[i : i + size])))
        pos = i + size
    del buffer[:pos]
    return acks, others


def parse_publish(flags: int, body: bytes) -> tuple[str, int, bytes, int]:
    """(topic, qos, payload, mid) of an incoming PUBLISH body; mid 0 at QoS 0."""
    topic_len = int.from_bytes(body[:2], "big")
    topic = bytes(body[2 : 2 + topic_len]).decode()
    qos = (flags >> 1) & 0x03
    pos = 2 + topic_len
    mid = 0
    if qos:
        mid = int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
    return topic, qos, bytes(body[pos:]), mid
