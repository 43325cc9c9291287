"""Wire → domain, once: one pure function from an MQTT message to readings and rejections.

CONTRACT §2 says what a message may hold and CONTRACT §3 what happens to one that does not
hold it. Every reason code is produced in exactly one place in this module; after
`parse_message` no raw dict or paho type travels further.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

from linli.rules.constants import (
    CHANNEL_CONFIG,
    CHANNEL_HEALTH,
    CHANNEL_STATUS,
    CHANNEL_TELEMETRY,
    FW_MAX_CHARS,
    HEALTH_FLOAT_FIELDS,
    HEALTH_INT_FIELDS,
    HEALTH_RANGES,
    MAX_BATCH_READINGS,
    MAX_PAYLOAD_BYTES,
    PERIOD_S_MAX,
    PERIOD_S_MIN,
    SENSOR_ID_PATTERN,
    SEQ_MAX,
    TS_MAX_AGE_MS,
    TS_MAX_AHEAD_MS,
)
from linli.rules.reading import (
    METRICS,
    NOISE_CHAIN,
    REQUIRED_METRIC,
    DeviceHealth,
    DeviceStatus,
    Metric,
    Reading,
    SensorKind,
)
from linli.rules.registry import Registry
from linli.rules.rejection import ReasonCode, Rejection

_SENSOR_RE = re.compile(SENSOR_ID_PATTERN)


@dataclass(slots=True)
class Parsed:
    """What one message turned into: stored parts and rejected parts."""

    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    status: DeviceStatus | None = None
    health: DeviceHealth | None = None
    ignored: bool = False
    # For a {"batch": [...]} message: each accepted reading's index in it.
    indexes: list[int] | None = None


class _Invalid(Exception):
    """One reading or message broke the contract; carries the reason and the sentence."""

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_message(
    topic: str, payload: bytes, received_ms: int, registry: Registry, prefix: str
) -> Parsed:
    """Judge one MQTT message; a batch is judged reading by reading (CONTRACT §3)."""
    out = Parsed()
    sensor: str | None = None
    try:
        sensor, channel = _split_topic(topic, prefix)
        if channel == CHANNEL_CONFIG:
            out.ignored = True  # linli's own retained config, echoed by the broker
            return out
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise _Invalid(
                ReasonCode.TOO_LARGE,
                f"message of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit",
            )
        tags = registry.tags.get(sensor)
        if tags is None:
            raise _Invalid(ReasonCode.UNKNOWN_SENSOR, f"sensor {sensor!r} is not in the registry")
        doc = _decode(payload)
        if channel == CHANNEL_STATUS:
            out.status = _status(sensor, doc, received_ms)
        elif channel == CHANNEL_HEALTH:
            out.health = _health(sensor, doc, received_ms)
        else:
            _telemetry(out, topic, payload, sensor, tags.kind, doc, received_ms)
    except _Invalid as bad:
        out.rejections.append(
            Rejection(topic, payload, received_ms, bad.reason, bad.detail, sensor=sensor)
        )
    return out


@lru_cache(maxsize=1 << 16)
def _split_topic(topic: str, prefix: str) -> tuple[str, str]:
    """(sensor, channel) of a well-formed topic (remembered: topics repeat per sensor)."""
    parts = topic.split("/")
    want = prefix.count("/") + 3
    channels = (CHANNEL_TELEMETRY, CHANNEL_STATUS, CHANNEL_HEALTH, CHANNEL_CONFIG)
    if (
        len(parts) != want
        or "/".join(parts[:-2]) != prefix
        or parts[-1] not in channels
        or not _SENSOR_RE.fullmatch(parts[-2])
    ):
        raise _Invalid(
            ReasonCode.BAD_TOPIC,
            f"topic {topic!r} is not {prefix}/{{sensor}}/{{telemetry|status|health}}",
        )
    return parts[-2], parts[-1]


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise _Invalid(ReasonCode.NOT_JSON, f"payload is not UTF-8 JSON: {err}") from None
    if not isinstance(doc, dict):
        raise _Invalid(ReasonCode.SCHEMA, f"payload is a JSON {type(doc).__name__}, not an object")
    return doc


def _telemetry(
    out: Parsed,
    topic: str,
    payload: bytes,
    sensor: str,
    kind: SensorKind,
    doc: dict[str, Any],
    received_ms: int,
) -> None:
    if "batch" not in doc:
        out.readings.append(_reading(sensor, kind, doc, received_ms))
        return
    batch = doc["batch"]
    if not isinstance(batch, list) or not batch or len(doc) != 1:
        raise _Invalid(
            ReasonCode.SCHEMA, '"batch" must be the only key and a non-empty list of readings'
        )
    if len(batch) > MAX_BATCH_READINGS:
        raise _Invalid(
            ReasonCode.TOO_LARGE,
            f"batch of {len(batch)} readings is over the {MAX_BATCH_READINGS}-reading limit",
        )
    indexes = out.indexes = []
    for index, item in enumerate(batch):
        try:
            if not isinstance(item, dict):
                raise _Invalid(ReasonCode.SCHEMA, "batch element is not a JSON object")
            out.readings.append(_reading(sensor, kind, item, received_ms))
            indexes.append(index)
        except _Invalid as bad:
            out.rejections.append(
                Rejection(
                    topic,
                    payload,
                    received_ms,
                    bad.reason,
                    f"batch[{index}]: {bad.detail}",
                    sensor=sensor,
                    index=index,
                )
            )


def _reading(sensor: str, kind: SensorKind, doc: dict[str, Any], received_ms: int) -> Reading:
    ts_ms = _timestamp(doc.get("ts"), required=True, received_ms=received_ms)
    seq = doc.get("seq")
    if type(seq) is not int or seq < 0:
        raise _Invalid(ReasonCode.SCHEMA, f'"seq" must be a non-negative integer, got {seq!r}')
    if seq > SEQ_MAX:
        raise _Invalid(
            ReasonCode.OUT_OF_RANGE,
            f"sensor {sensor!r}: seq {seq} outside 0–{SEQ_MAX} (InfluxDB stores int64)",
        )
    period_s = doc.get("period_s")
    if type(period_s) is not int:
        raise _Invalid(ReasonCode.SCHEMA, f'"period_s" must be an integer, got {period_s!r}')
    if not PERIOD_S_MIN <= period_s <= PERIOD_S_MAX:
        raise _Invalid(
            ReasonCode.OUT_OF_RANGE,
            f"sensor {sensor!r}: period_s {period_s} outside {PERIOD_S_MIN}–{PERIOD_S_MAX}",
        )
    metrics = doc.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise _Invalid(ReasonCode.SCHEMA, '"metrics" must be a non-empty object')
    values = _metrics(sensor, kind, metrics)
    return Reading(sensor, kind, ts_ms, seq, period_s, values)


def check_reading(
    sensor: str,
    kind: SensorKind,
    ts_ms: int,
    seq: int,
    period_s: int,
    metrics: dict[str, Any],
    received_ms: int,
    *,
    require: bool = True,
) -> Reading | tuple[ReasonCode, str]:
    """A reading decoded from another wire (HJ 212, rules/hj212.py), judged as an MQTT
    one is: its time window, its period, its metrics' names, kinds, ranges and order.

    Returns the reading, or the reason and the sentence it is refused with. `require`
    False lets a reading carry no `laeq`/`oil_fume` (a facility's state alone).
    """
    try:
        ts_ms = _timestamp(ts_ms, required=True, received_ms=received_ms)
        if not PERIOD_S_MIN <= period_s <= PERIOD_S_MAX:
            raise _Invalid(
                ReasonCode.OUT_OF_RANGE,
                f"sensor {sensor!r}: period_s {period_s} outside {PERIOD_S_MIN}–{PERIOD_S_MAX}",
            )
        if not metrics:
            raise _Invalid(ReasonCode.SCHEMA, "no metric linli knows")
        values = _metrics(sensor, kind, metrics, require=require)
    except _Invalid as bad:
        return bad.reason, bad.detail
    return Reading(sensor, kind, ts_ms, seq, period_s, values)


def _metrics(
    sensor: str, kind: SensorKind, metrics: dict[str, Any], *, require: bool = True
) -> dict[str, Metric]:
    for name, value in metrics.items():
        spec = METRICS.get(name)
        if spec is None:
            raise _Invalid(ReasonCode.SCHEMA, f"unknown metric {name!r}")
        if spec.kind is not kind:
            raise _Invalid(
                ReasonCode.KIND_MISMATCH,
                f"sensor {sensor!r} is a {kind} sensor but sent {spec.kind} metric {name!r}",
            )
        if spec.boolean:
            if type(value) is not bool:
                raise _Invalid(ReasonCode.SCHEMA, f"{name} must be true or false, got {value!r}")
            continue
        if type(value) is not float and type(value) is not int:
            raise _Invalid(ReasonCode.SCHEMA, f"{name} must be a number, got {value!r}")
        if not (math.isfinite(value) and spec.low <= value <= spec.high):  # type: ignore[operator]
            raise _Invalid(
                ReasonCode.OUT_OF_RANGE,
                f"sensor {sensor!r}: {name} {value} outside {spec.low:g}–{spec.high:g}",
            )
    required = REQUIRED_METRIC[kind]
    if require and required not in metrics:
        raise _Invalid(ReasonCode.SCHEMA, f"a {kind} reading must carry {required!r}")
    if kind is SensorKind.NOISE:
        _check_noise_order(sensor, metrics)
    return metrics


def _check_noise_order(sensor: str, metrics: dict[str, Any]) -> None:
    """CONTRACT §2: lamin ≤ l90 ≤ l50 ≤ l10 ≤ lamax and lamin ≤ laeq ≤ lamax."""
    prev_name, prev = "", -math.inf
    for name in NOISE_CHAIN:
        value = metrics.get(name)
        if value is None:
            continue
        if value < prev:
            raise _Invalid(
                ReasonCode.INCONSISTENT,
                f"sensor {sensor!r}: {name} {value} is below {prev_name} {prev}",
            )
        prev_name, prev = name, value
    laeq = metrics.get("laeq")
    if laeq is None:  # a reading not required to carry it (check_reading)
        return
    lamin, lamax = metrics.get("lamin"), metrics.get("lamax")
    if (lamin is not None and laeq < lamin) or (lamax is not None and laeq > lamax):
        raise _Invalid(
            ReasonCode.INCONSISTENT,
            f"sensor {sensor!r}: laeq {laeq} is not between lamin {lamin} and lamax {lamax}",
        )


def _timestamp(value: Any, *, required: bool, received_ms: int) -> int:
    if value is None and not required:
        return received_ms
    if type(value) is int:
        ts_ms = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise _Invalid(
                ReasonCode.SCHEMA, f'"ts" {value!r} is not an RFC 3339 time with an offset'
            )
        ts_ms = round(parsed.timestamp() * 1000)
    else:
        raise _Invalid(
            ReasonCode.SCHEMA,
            f'"ts" must be epoch milliseconds or an RFC 3339 string, got {value!r}',
        )
    if not received_ms - TS_MAX_AGE_MS <= ts_ms <= received_ms + TS_MAX_AHEAD_MS:
        raise _Invalid(
            ReasonCode.TS_OUT_OF_RANGE,
            f"ts {_iso(ts_ms)} is outside the accepted window "
            f"(7 days ago to 5 minutes ahead of {_iso(received_ms)})",
        )
    return ts_ms


def _iso(ts_ms: int) -> str:
    try:
        return datetime.fromtimestamp(ts_ms / 1000).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return f"{ts_ms} ms"


def _status(sensor: str, doc: dict[str, Any], received_ms: int) -> DeviceStatus:
    online = doc.get("online")
    if type(online) is not bool:
        raise _Invalid(ReasonCode.SCHEMA, f'status "online" must be true or false, got {online!r}')
    fw = doc.get("fw")
    if fw is not None and (not isinstance(fw, str) or len(fw) > FW_MAX_CHARS):
        raise _Invalid(
            ReasonCode.SCHEMA,
            f'status "fw" must be a string of at most {FW_MAX_CHARS} characters, got {fw!r:.200}',
        )
    ts_ms = _timestamp(doc.get("ts"), required=False, received_ms=received_ms)
    return DeviceStatus(sensor, ts_ms, online, fw)


def _health(sensor: str, doc: dict[str, Any], received_ms: int) -> DeviceHealth:
    ts_ms = _timestamp(doc.get("ts"), required=True, received_ms=received_ms)
    values: dict[str, float | int] = {}
    for name in HEALTH_FLOAT_FIELDS + HEALTH_INT_FIELDS:
        value = doc.get(name)
        if value is None:
            continue
        if type(value) not in (int, float) or not math.isfinite(value):
            raise _Invalid(ReasonCode.SCHEMA, f"health {name} must be a number, got {value!r}")
        low, high = HEALTH_RANGES[name]
        if not low <= value <= high:
            raise _Invalid(
                ReasonCode.OUT_OF_RANGE,
                f"sensor {sensor!r}: health {name} {value!r} outside {low:g}–{high:g}",
            )
        values[name] = int(value) if name in HEALTH_INT_FIELDS else float(value)
    return DeviceHealth(sensor, ts_ms, values)
