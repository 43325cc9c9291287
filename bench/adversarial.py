"""Adversarial MQTT messages, mixed with valid readings: one generator for the
fuzz test (tests/ingest/test_fuzz_e2e.py, 10,000) and the fuzz benchmark (bench/fuzz.py,
100,000), so that both send the same kinds of bad input.

No part of an adversarial message is a valid reading: random bytes, cut JSON, bad
topics, bad `seq`/`ts`/`period_s`, out-of-range and non-numeric metrics, NaN and
Infinity, deep nesting, batches of junk or over the batch limit, payloads over the size
limit. `expected` asks the parser (rules/parse.py) how many rejections each gives.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import orjson

from linli.rules.parse import parse_message
from linli.rules.registry import Registry

# Sensors of tests/data/small.toml and bench/fuzz.py's community, and two it does not know
SENSORS: tuple[str, ...] = ("n-01", "n-02", "n-03", "f-01", "n-77", "x")


def noise(ts_ms: int, seq: int, laeq: float = 55.0) -> dict[str, Any]:
    """A valid noise reading as a device sends it."""
    return {"ts": ts_ms, "seq": seq, "period_s": 60, "metrics": {"laeq": laeq}}


def adversarial(rng: random.Random, prefix: str, now_ms: int) -> tuple[str, bytes]:
    """One message no part of which is a valid reading."""
    sensor = rng.choice(SENSORS)
    topic = f"{prefix}/{sensor}/telemetry"
    good = noise(now_ms - rng.randrange(1, 10**6), rng.randrange(10**6))
    choice = rng.randrange(12)
    if choice == 0:
        return topic, rng.randbytes(rng.randrange(0, 300))
    if choice == 1:
        return topic, orjson.dumps(good)[: rng.randrange(1, 40)]
    if choice == 2:
        return f"{prefix}/{sensor}/" + rng.choice(["telemetri", "", "status/x", "好"]), b"{}"
    if choice == 3:
        seq = rng.choice([b'"1"', b"null", b"-1", b"1180591620717411303424", b"1.5"])
        return topic, orjson.dumps({**good, "seq": 0}).replace(b'"seq":0', b'"seq":' + seq)
    if choice == 4:
        bad = rng.choice([171.2, -5.0, 1e308, "NaN", None, [1]])
        return topic, orjson.dumps({**good, "metrics": {"laeq": bad}})
    if choice == 5:
        return topic, b'{"ts": ' + rng.choice([b"NaN", b"Infinity", b"1e999", b"-0"]) + b"}"
    if choice == 6:
        return topic, b"[" * rng.randrange(1, 5000) + b"]" * rng.randrange(0, 5000)
    if choice == 7:
        return topic, orjson.dumps({**good, "ts": rng.choice([0, -1, 2**62, now_ms + 10**9])})
    if choice == 8:
        items: list[Any] = [rng.choice([1, "x", None, {}, {"ts": "now"}]) for _ in range(20)]
        return topic, orjson.dumps({"batch": items})
    if choice == 9:
        return topic, orjson.dumps({"batch": [good] * 1001})  # over the batch limit
    if choice == 10:
        return topic, b'{"pad": "' + b"x" * rng.randrange(262_144, 300_000) + b'"}'
    return topic, orjson.dumps({**good, "period_s": rng.choice([0, -60, 10**9, "60"])})


def valid_readings(prefix: str, n: int, start_ms: int) -> list[tuple[str, bytes]]:
    """`n` valid noise readings of n-01, n-02 and n-03, one second apart from `start_ms`."""
    return [
        (f"{prefix}/n-0{1 + i % 3}/telemetry", orjson.dumps(noise(start_ms + i * 1000, i)))
        for i in range(n)
    ]


def expected(
    messages: Sequence[tuple[str, bytes]], registry: Registry, prefix: str, now_ms: int
) -> tuple[int, int]:
    """(readings, rejections) the parser makes of `messages`."""
    readings = rejections = 0
    for topic, payload in messages:
        parsed = parse_message(topic, payload, now_ms, registry, prefix)
        readings += len(parsed.readings)
        rejections += len(parsed.rejections)
    return readings, rejections


def mixed(
    rng: random.Random, prefix: str, now_ms: int, bad: int, good: int
) -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """`bad` adversarial messages and `good` valid readings (a second apart, the last a
    minute ago), shuffled together: (all messages, the adversarial ones)."""
    adversarial_messages = [adversarial(rng, prefix, now_ms) for _ in range(bad)]
    start_ms = now_ms - 60_000 - good * 1000
    messages = adversarial_messages + valid_readings(prefix, good, start_ms)
    rng.shuffle(messages)
    return messages, adversarial_messages
