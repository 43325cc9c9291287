"""Why a message (or one reading of a batch) was not stored (CONTRACT §3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """The contract's reason codes; each is produced in exactly one place.

    The wire's are decided by rules/parse.py, an HJ 212 frame's by rules/hj212.py
    (CONTRACT §8: the four below `NOT_STORABLE`, and `schema`, `out_of_range`,
    `ts_out_of_range` through parse.py's checks of a reading). Two are decided after
    them (docs/devices.md):
    `conflict` (rules/identity.py: a reading for a (sensor, ts) already stored, with
    another seq or other values) and `not_storable` (ingest/refusal.py: a point
    InfluxDB refused as unparsable, with its message).
    """

    BAD_TOPIC = "bad_topic"
    NOT_JSON = "not_json"
    TOO_LARGE = "too_large"
    SCHEMA = "schema"
    UNKNOWN_SENSOR = "unknown_sensor"
    KIND_MISMATCH = "kind_mismatch"
    OUT_OF_RANGE = "out_of_range"
    INCONSISTENT = "inconsistent"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    CONFLICT = "conflict"
    NOT_STORABLE = "not_storable"
    BAD_FRAME = "bad_frame"
    BAD_CRC = "bad_crc"
    UNKNOWN_DEVICE = "unknown_device"
    BAD_PASSWORD = "bad_password"


# Decided after parsing, not by rules/parse.py.
AFTER_PARSE: frozenset[ReasonCode] = frozenset({ReasonCode.CONFLICT, ReasonCode.NOT_STORABLE})

# Only an HJ 212 frame is refused for these (rules/hj212.py; CONTRACT §8).
HJ212_ONLY: frozenset[ReasonCode] = frozenset(
    {
        ReasonCode.BAD_FRAME,
        ReasonCode.BAD_CRC,
        ReasonCode.UNKNOWN_DEVICE,
        ReasonCode.BAD_PASSWORD,
    }
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A rejected message or batch element, kept with its raw bytes and a sentence."""

    topic: str
    payload: bytes
    received_ms: int
    reason: ReasonCode
    detail: str
    sensor: str | None = None
    index: int | None = None
