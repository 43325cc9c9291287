"""Bucketing a series: dB levels energetically, fume values by their time-weighted mean.

CONTRACT §4: averages of dB values are energetic, `10·log10(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ)`
with tᵢ the readings' periods (DOMAIN, "Noise statistics"). InfluxQL cannot compute
this, so raw points are fetched and bucketed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from linli.rules.reading import METRICS, SensorKind


class Aggregate(StrEnum):
    """How the readings of one bucket become one value."""

    ENERGETIC = "energetic_mean"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"


def aggregate_for(metric: str) -> Aggregate:
    """Levels are averaged energetically; Lmax and Lmin stay the bucket's max and min."""
    if metric == "lamax":
        return Aggregate.MAX
    if metric == "lamin":
        return Aggregate.MIN
    if METRICS[metric].kind is SensorKind.NOISE:
        return Aggregate.ENERGETIC
    return Aggregate.MEAN  # booleans average to the share of time switched on


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket: its start, its aggregate and how many readings made it."""

    ts_ms: int
    value: float
    count: int


def bucketize(
    ts_ms: npt.ArrayLike,
    values: npt.ArrayLike,
    weights: npt.ArrayLike,
    every_ms: int,
    how: Aggregate,
) -> list[Bucket]:
    """Group readings into buckets aligned to the epoch, like InfluxQL's GROUP BY time()."""
    ts = np.asarray(ts_ms, dtype=np.int64)
    if ts.size == 0:
        return []
    v = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    starts, index = np.unique(ts // every_ms * every_ms, return_inverse=True)
    counts = np.bincount(index, minlength=starts.size)
    out: npt.NDArray[np.float64]
    if how is Aggregate.ENERGETIC:
        energy = np.bincount(index, weights=w * np.power(10.0, v / 10.0), minlength=starts.size)
        out = 10.0 * np.log10(energy / np.bincount(index, weights=w, minlength=starts.size))
    elif how is Aggregate.MEAN:
        out = np.bincount(index, weights=w * v, minlength=starts.size) / np.bincount(
            index, weights=w, minlength=starts.size
        )
    elif how is Aggregate.MAX:
        out = np.full(starts.size, -np.inf)
        np.maximum.at(out, index, v)
    else:
        out = np.full(starts.size, np.inf)
        np.minimum.at(out, index, v)
    return [Bucket(int(t), float(x), int(n)) for t, x, n in zip(starts, out, counts, strict=True)]
