"""The fleet's options and counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .device import FIRMWARE

PER_DEVICE: Final = "per-device"  # each sensor its own connection, as production ACLs want
SHARED: Final = "shared"  # a few connections publish for all sensors (brokers without ACLs)


@dataclass(frozen=True, slots=True)
class FleetOptions:
    """How a fleet runs; times are simulated seconds unless the name ends in `_real_s`."""

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    prefix: str = "linli/v1"
    period_s: int = 60
    speed: float = 1.0
    start_s: int | None = None  # None: real time when the clock starts
    duration_s: int | None = None  # None: until stop()
    connections: str = PER_DEVICE
    shared_links: int = 4
    seed: int = 0
    tz: str = "Asia/Shanghai"
    fw: str = FIRMWARE
    health_every_s: int = 300  # 0: no health messages
    buffer_max: int = 100_000  # readings a device keeps while it cannot send
    max_outstanding: int = 50_000  # unacknowledged telemetry before generation pauses
    chunk_readings: int = 20_000  # readings generated in one go before I/O is served
    tick_real_s: float = 0.05
    connect_timeout_real_s: float = 30.0
    settle_real_s: float = 0.2  # after SUBACK, for retained configs to arrive
    drain_timeout_real_s: float = 10.0
    retry_real_s: float = 2.0
    report_every_real_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Counters:
    """What the fleet has done so far."""

    sim_s: float  # the simulated second generated up to
    real_s: float  # real seconds since the clock started
    devices: int
    online: int
    readings: int  # readings published, live or inside batches
    messages: int  # telemetry messages published (a batch or a bad payload is one)
    batches: int
    acked: int  # PUBACKs of telemetry messages
    buffered: int  # readings waiting in device buffers
    dropped: int  # readings lost to full buffers
    bad_payloads: int
    health: int
    errors: int
    lag_s: float  # simulated seconds the generation is behind the clock
    last_error: str = ""
