"""What a sensor tells linli, once it has been understood (CONTRACT §2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, NamedTuple


class SensorKind(StrEnum):
    """A sensor measures noise or cooking fume; the registry says which."""

    NOISE = "noise"
    FUME = "fume"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric of the device protocol: its kind, unit and valid range."""

    name: str
    kind: SensorKind
    unit: str
    low: float | None = None
    high: float | None = None
    boolean: bool = False


# CONTRACT §2, the metric table. Ranges are the physically plausible span a
# reading must fall in to be stored at all; the legal limits live in rules/limits.
METRICS: Final[dict[str, MetricSpec]] = {
    m.name: m
    for m in (
        MetricSpec("laeq", SensorKind.NOISE, "dB(A)", 20, 140),
        MetricSpec("lamax", SensorKind.NOISE, "dB(A)", 0, 150),
        MetricSpec("lamin", SensorKind.NOISE, "dB(A)", 0, 150),
        MetricSpec("l10", SensorKind.NOISE, "dB(A)", 0, 140),
        MetricSpec("l50", SensorKind.NOISE, "dB(A)", 0, 140),
        MetricSpec("l90", SensorKind.NOISE, "dB(A)", 0, 140),
        MetricSpec("oil_fume", SensorKind.FUME, "mg/m³", 0, 50),
        MetricSpec("pm", SensorKind.FUME, "mg/m³", 0, 50),
        MetricSpec("nmhc", SensorKind.FUME, "mg/m³", 0, 200),
        MetricSpec("fan_on", SensorKind.FUME, "", boolean=True),
        MetricSpec("purifier_on", SensorKind.FUME, "", boolean=True),
        MetricSpec("purifier_current", SensorKind.FUME, "A", 0, 100),
    )
}

# CONTRACT §2: the one metric each kind must send.
REQUIRED_METRIC: Final = {SensorKind.NOISE: "laeq", SensorKind.FUME: "oil_fume"}

# CONTRACT §2: lamin ≤ l90 ≤ l50 ≤ l10 ≤ lamax, and lamin ≤ laeq ≤ lamax, for the
# metrics present: the present members of this chain must not decrease.
NOISE_CHAIN: Final = ("lamin", "l90", "l50", "l10", "lamax")

Metric = float | bool


# Reading and DeviceStatus are NamedTuples, not frozen dataclasses: as immutable, but
# built at C speed (`tuple.__new__`), and every stored reading is built twice, by
# ingest and again by the rule engine's process (linli/engineproc.py).


class Reading(NamedTuple):
    """One accepted reading: a sensor's metrics for the period ending at `ts_ms`."""

    sensor: str
    kind: SensorKind
    ts_ms: int
    seq: int
    period_s: int
    metrics: dict[str, Metric]
    # An HJ 212 data flag other than N (CONTRACT §8): not monitoring data. None: valid.
    flag: str | None = None


# HJ 212-2017's data flag of valid monitoring data; any other (M maintenance, C
# calibration, F stopped, D fault, T over range, S manual, B link failure) is not.
MONITORING_FLAG: Final = "N"


def monitoring(r: Reading) -> bool:
    """Whether the rules judge this reading: no flag (or `N`), not a flagged one (CONTRACT §8)."""
    return r.flag is None or r.flag == MONITORING_FLAG


class DeviceStatus(NamedTuple):
    """A retained status message or the last will (CONTRACT §2)."""

    sensor: str
    ts_ms: int
    online: bool
    fw: str | None = None


def numeric(r: Reading, metric: str) -> float | None:
    """A reading's number for `metric`, or None when it has none (or a true/false)."""
    value = r.metrics.get(metric)
    if value is None or isinstance(value, bool):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A health message: battery, radio, temperature, uptime (all optional but ts)."""

    sensor: str
    ts_ms: int
    values: dict[str, float | int] = field(default_factory=dict)
