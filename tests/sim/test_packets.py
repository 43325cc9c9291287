"""The lean link's MQTT 3.1.1 codec, byte for byte (OASIS MQTT 3.1.1 §2–3)."""

from __future__ import annotations

import pytest

from linli.sim import packets


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        pytest.param(0, b"\x00", id="0"),
        pytest.param(127, b"\x7f", id="127: one byte"),
        pytest.param(128, b"\x80\x01", id="128: two bytes"),
        pytest.param(16_383, b"\xff\x7f", id="16383: the largest in two"),
        pytest.param(16_384, b"\x80\x80\x01", id="16384: three bytes"),
        pytest.param(268_435_455, b"\xff\xff\xff\x7f", id="the largest allowed"),
    ],
)
def test_remaining_length(n: int, encoded: bytes) -> None:
    assert packets.varlen(n) == encoded


def test_connect_clean_session_with_login_and_will() -> None:
    packet = packets.connect("c1", 60, "u", "pw", ("a/status", b"{}"))
    body = (
        b"\x00\x04MQTT\x04"
        + bytes((0x02 | 0x04 | 0x08 | 0x20 | 0x80 | 0x40,))  # clean, will QoS 1 retained, login
        + b"\x00\x3c"
        + b"\x00\x02c1"
        + b"\x00\x08a/status\x00\x02{}"
        + b"\x00\x01u\x00\x02pw"
    )
    assert packet == b"\x10" + bytes((len(body),)) + body
    assert packets.connect("c1", 60) == b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x02c1"


@pytest.mark.parametrize(
    ("qos", "retain", "expected"),
    [
        pytest.param(1, False, b"\x32\x0b\x00\x03a/b\x00\x07{}xy", id="QoS 1 carries the mid"),
        pytest.param(1, True, b"\x33\x0b\x00\x03a/b\x00\x07{}xy", id="retained"),
        pytest.param(0, False, b"\x30\x09\x00\x03a/b{}xy", id="QoS 0 has no mid"),
    ],
)
def test_publish(qos: int, retain: bool, expected: bytes) -> None:
    assert packets.publish(packets.utf8("a/b"), b"{}xy", qos, retain, 7) == expected


def test_duplicate_flag_and_puback() -> None:
    assert (
        packets.as_duplicate(b"\x32\x0b\x00\x03a/b\x00\x07{}xy")
        == b"\x3a\x0b\x00\x03a/b\x00\x07{}xy"
    )
    assert packets.puback(0x1234) == b"\x40\x02\x12\x34"


def test_subscribe() -> None:
    assert packets.subscribe(5, ("x/+/config",)) == b"\x82\x0f\x00\x05\x00\x0ax/+/config\x01"


def test_split_reads_pubacks_in_bulk_and_keeps_a_partial_packet() -> None:
    buffer = bytearray(
        b"\x40\x02\x00\x01\x40\x02\x01\x00\x20\x02\x00\x00\x90\x03\x00\x05\x01\x40\x02\x00"
    )
    acks, others = packets.split(buffer)
    assert acks == [1, 256]
    assert others == [(packets.CONNACK, 0, b"\x00\x00"), (packets.SUBACK, 0, b"\x00\x05\x01")]
    assert buffer == bytearray(b"\x40\x02\x00")  # the start of the next PUBACK waits
    buffer += b"\x09"
    assert packets.split(buffer) == ([9], []) and buffer == bytearray()


def test_split_waits_for_a_long_publish_and_parses_it() -> None:
    payload = b'{"period_s": 5}' * 10
    topic = packets.utf8("linli/v1/n-01/config")
    whole = bytearray(
        b"\x33" + packets.varlen(len(topic) + 2 + len(payload)) + topic + b"\x00\x2a" + payload
    )
    buffer = whole[:1]
    assert packets.split(buffer) == ([], []) and len(buffer) == 1
    buffer += whole[1:50]
    assert packets.split(buffer) == ([], []) and len(buffer) == 50
    buffer += whole[50:]
    acks, [(kind, flags, body)] = packets.split(buffer)
    assert (acks, kind, flags, buffer) == ([], packets.PUBLISH, 0x03, bytearray())
    assert packets.parse_publish(flags, body) == ("linli/v1/n-01/config", 1, payload, 42)


def test_split_refuses_a_malformed_length() -> None:
    with pytest.raises(ValueError, match="malformed"):
        packets.split(bytearray(b"\x30\xff\xff\xff\xff\x01"))
