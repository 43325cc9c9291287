"""Why a message (or one reading of a batch) was not stored (CONTRACT §3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """The contract's reason codes; each is produced in exactly one place.

    The wire's are decided by rules/parse.py. Two are decided after it (docs/devices.md):
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


# Decided after parsing, not by rules/parse.py.
AFTER_PARSE: frozenset[ReasonCode] = frozenset({ReasonCode.CONFLICT, ReasonCode.NOT_STORABLE})


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
