"""One simulated sensor's firmware state and the exact payloads of CONTRACT §2."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import orjson

from .scenario import BadVariant

SENSOR_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{2,63}")
MAX_BATCH_READINGS: Final = 1000  # CONTRACT §2: a batch holds at most 1000 readings
MAX_MESSAGE_BYTES: Final = 256 * 1024  # CONTRACT §2: at most 256 KiB per message
PERIOD_MIN_S: Final = 1
PERIOD_MAX_S: Final = 3600
FIRMWARE: Final = "1.4.2"
_THIRTY_DAYS_MS: Final = 30 * 86_400_000

# Payloads are %-formatted bytes rather than dicts through a JSON encoder: the fleet
# makes 10,000 of them a second, and the shapes are fixed by the contract.
_READING: Final = b'{"ts":%d,"seq":%d,"period_s":%d,"metrics":%s}'
_NOISE: Final = b'{"laeq":%.1f,"lamax":%.1f,"lamin":%.1f,"l10":%.1f,"l50":%.1f,"l90":%.1f}'
_FUME: Final = (
    b'{"oil_fume":%.2f,"pm":%.2f,"nmhc":%.2f,"fan_on":%s,"purifier_on":%s,"purifier_current":%.2f}'
)
_HEALTH: Final = b'{"ts":%d,"battery_v":%.2f,"rssi_dbm":%d,"temp_c":%.1f,"uptime_s":%d}'
_BOOL: Final = (b"false", b"true")


class Kind(StrEnum):
    """What a sensor measures; fixes which metrics its readings carry."""

    NOISE = "noise"
    FUME = "fume"


class ConfigError(ValueError):
    """A config message a device cannot obey."""


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """A sensor as the simulator knows it: id, kind and its site's daily profile."""

    id: str
    kind: Kind
    profile: str
    site: str = ""

    def __post_init__(self) -> None:
        if not SENSOR_ID.fullmatch(self.id):
            raise ValueError(f"sensor id {self.id!r} is not [a-z0-9][a-z0-9-]{{2,63}}")


@dataclass(frozen=True, slots=True)
class Topics:
    """A sensor's four topics (CONTRACT §2)."""

    telemetry: str
    status: str
    health: str
    config: str

    @classmethod
    def of(cls, prefix: str, sensor: str) -> Topics:
        """The topics of `sensor` under `prefix` (e.g. `linli/v1`)."""
        base = f"{prefix}/{sensor}"
        return cls(f"{base}/telemetry", f"{base}/status", f"{base}/health", f"{base}/config")


def noise_metrics(row: Sequence[float]) -> bytes:
    """The metrics object of a noise reading from (laeq, lamax, lamin, l10, l50, l90)."""
    return _NOISE % tuple(row)


def fume_metrics(
    oil_fume: float, pm: float, nmhc: float, fan_on: bool, purifier_on: bool, current_a: float
) -> bytes:
    """The metrics object of a fume reading."""
    return _FUME % (oil_fume, pm, nmhc, _BOOL[fan_on], _BOOL[purifier_on], current_a)


def parse_config(payload: bytes) -> int:
    """The `period_s` a config message asks for."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise ConfigError(f"config is not JSON: {payload[:80]!r}") from err
    period = data.get("period_s") if isinstance(data, dict) else None
    if isinstance(period, bool) or not isinstance(period, int):
        raise ConfigError(f"config period_s {period!r} is not an integer")
    if not PERIOD_MIN_S <= period <= PERIOD_MAX_S:
        raise ConfigError(f"config period_s {period} outside {PERIOD_MIN_S}-{PERIOD_MAX_S}")
    return period


class Device:
    """A sensor's firmware: seq counter, averaging period, link state and offline buffer."""

    __slots__ = (
        "buffer",
        "connected",
        "dropped",
        "last_metrics",
        "last_sent",
        "offline",
        "period_s",
        "seq",
        "spec",
        "stuck",
        "stuck_metrics",
        "topics",
    )

    def __init__(self, spec: SensorSpec, prefix: str, period_s: int, buffer_max: int) -> None:
        self.spec = spec
        self.topics = Topics.of(prefix, spec.id)
        self.seq = 0  # the next reading's seq; rises across offline spells and reconnects
        self.period_s = period_s
        self.connected = False  # the MQTT link is up
        self.offline = False  # a scripted outage: the device keeps sampling and buffers
        self.stuck = False
        self.stuck_metrics: bytes | None = None
        self.last_metrics: bytes | None = None
        self.last_sent: tuple[int, int] | None = None  # (ts_ms, seq) of the last reading
        self.buffer: deque[bytes] = deque(maxlen=buffer_max)
        self.dropped = 0  # readings the full buffer had to forget (a seq gap downstream)

    @property
    def live(self) -> bool:
        """Whether readings go out now rather than into the buffer."""
        return self.connected and not self.offline

    def reading(self, ts_ms: int, metrics: bytes) -> bytes:
        """The next reading's payload; takes a seq. A stuck device repeats old metrics."""
        if self.stuck:
            if self.stuck_metrics is None:
                self.stuck_metrics = metrics
            metrics = self.stuck_metrics
        self.last_metrics = metrics
        self.last_sent = (ts_ms, self.seq)
        payload = _READING % (ts_ms, self.seq, self.period_s, metrics)
        self.seq += 1
        return payload

    def keep(self, payload: bytes) -> None:
        """Buffer a reading while the device cannot send; the oldest goes when full."""
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(payload)

    def take_batches(
        self, max_readings: int = MAX_BATCH_READINGS, max_bytes: int = MAX_MESSAGE_BYTES
    ) -> list[bytes]:
        """Empty the buffer into `{"batch": [...]}` messages, oldest first, within limits."""
        batches: list[bytes] = []
        chunk: list[bytes] = []
        size = 12  # len(b'{"batch":[]}')
        while self.buffer:
            reading = self.buffer[0]
            if chunk and (len(chunk) >= max_readings or size + len(reading) + 1 > max_bytes):
                batches.append(b'{"batch":[' + b",".join(chunk) + b"]}")
                chunk, size = [], 12
            chunk.append(self.buffer.popleft())
            size += len(reading) + 1
        if chunk:
            batches.append(b'{"batch":[' + b",".join(chunk) + b"]}")
        return batches

    def start_stuck(self) -> None:
        """From now on repeat the last metrics sent (or the next ones, if none yet)."""
        self.stuck = True
        self.stuck_metrics = self.last_metrics

    def end_stuck(self) -> None:
        """Measure again."""
        self.stuck = False
        self.stuck_metrics = None

    def obey(self, payload: bytes) -> int:
        """Apply a retained config message; returns the new period."""
        self.period_s = parse_config(payload)
        return self.period_s

    def status(self, online: bool, ts_ms: int, fw: str = FIRMWARE) -> bytes:
        """The retained status payload."""
        if online:
            return orjson.dumps({"online": True, "fw": fw, "ts": ts_ms})
        return orjson.dumps({"online": False, "ts": ts_ms})

    @staticmethod
    def will() -> bytes:
        """The last will the broker publishes when the connection drops (CONTRACT §2)."""
        return b'{"online":false}'

    def health(
        self, ts_ms: int, battery_v: float, rssi_dbm: int, temp_c: float, uptime_s: int
    ) -> bytes:
        """A health message."""
        return _HEALTH % (ts_ms, battery_v, rssi_dbm, temp_c, uptime_s)

    def bad_payload(self, variant: BadVariant, ts_ms: int) -> bytes:
        """A malformed message breaking one contract rule; it does not take a seq."""
        noise = self.spec.kind is Kind.NOISE
        metrics: object
        if variant is BadVariant.NOT_JSON:
            # Cut short: the metrics object is never closed.
            return _READING % (ts_ms, self.seq, self.period_s, b'{"laeq":58.3')
        if variant is BadVariant.SCHEMA:
            return orjson.dumps({"ts": ts_ms, "seq": -1, "period_s": 0, "metrics": "loud"})
        if variant is BadVariant.OUT_OF_RANGE:
            metrics = {"laeq": 171.2} if noise else {"oil_fume": 75.0}
        elif variant is BadVariant.INCONSISTENT:  # only noise has a consistency rule
            metrics = {"laeq": 60.0, "lamax": 55.0, "lamin": 65.0}
        elif variant is BadVariant.KIND_MISMATCH:
            metrics = {"oil_fume": 0.8} if noise else {"laeq": 55.0}
        elif variant is BadVariant.SEQ_OVERFLOW:  # a sane reading but for its seq
            metrics = {"laeq": 55.0} if noise else {"oil_fume": 0.8}
            return orjson.dumps(
                {"ts": ts_ms, "seq": 2**64 - 1, "period_s": self.period_s, "metrics": metrics}
            )
        elif variant is BadVariant.CONFLICT:  # rewrite what was sent: stored evidence
            ts_ms, seq = self.last_sent or (ts_ms, self.seq)
            metrics = {"laeq": 95.0} if noise else {"oil_fume": 9.0}
            return orjson.dumps(
                {"ts": ts_ms, "seq": seq, "period_s": self.period_s, "metrics": metrics}
            )
        else:  # TS_OUT_OF_RANGE: a reading from 30 days ago, beyond the 7-day window
            ts_ms -= _THIRTY_DAYS_MS
            metrics = {"laeq": 55.0} if noise else {"oil_fume": 0.8}
        return orjson.dumps(
            {"ts": ts_ms, "seq": self.seq, "period_s": self.period_s, "metrics": metrics}
        )
