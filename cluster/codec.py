"""A stored reading (or status) as one message of the stored stream, for the engine.

One message per item, so that its `Nats-Msg-Id` names it and the stream drops it when an
ingest worker publishes it again (it stored the reading, died before acknowledging, and
the next owner of its partition stores and publishes it once more). The body is JSON
keyed by field name, the fields declared here (`READING_FIELDS`, `STATUS_FIELDS`) and
compared with the types' own by tests/test_codecs.py.
"""

from __future__ import annotations

from typing import Final

import orjson

from linli.rules.reading import DeviceStatus, Reading, SensorKind

READING_FIELDS: Final = ("sensor", "kind", "ts_ms", "seq", "period_s", "metrics", "flag")
STATUS_FIELDS: Final = ("sensor", "ts_ms", "online", "fw")


class BadStored(ValueError):
    """A message of the stored stream this linli cannot read."""


def encode(item: Reading | DeviceStatus) -> bytes:
    """The message body of a stored reading or status."""
    if isinstance(item, Reading):
        return orjson.dumps({"r": dict(zip(READING_FIELDS, item, strict=True))})
    return orjson.dumps({"s": dict(zip(STATUS_FIELDS, item, strict=True))})


def msg_id(item: Reading | DeviceStatus) -> str:
    """The identity the stream deduplicates on: a reading's (sensor, ts) (CONTRACT §2), a
    status's (sensor, ts, online)."""
    if isinstance(item, Reading):
        return f"r:{item.sensor}:{item.ts_ms}"
    return f"s:{item.sensor}:{item.ts_ms}:{int(item.online)}"


def decode(body: bytes) -> Reading | DeviceStatus:
    """The inverse of `encode`; raises BadStored."""
    try:
        doc = orjson.loads(body)
        if "r" in doc:
            r = doc["r"]
            return Reading(**{**r, "kind": SensorKind(r["kind"])})
        return DeviceStatus(**doc["s"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise BadStored(f"stored message {body[:80]!r}: {err}") from err
