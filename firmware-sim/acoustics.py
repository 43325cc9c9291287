"""A period's noise statistics from 1-second A-weighted levels, vectorised over devices.

The quantities are those an automatic noise monitor reports per interval (HJ 906-2017):
LAeq, LAmax, LAmin and the percentile levels L10, L50, L90, where L_N is the level
exceeded N % of the time, i.e. the (100 − N)th percentile of the samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# Column order of `period_levels`; also the key order of a noise reading's metrics.
NOISE_METRICS: Final = ("laeq", "lamax", "lamin", "l10", "l50", "l90")
LAEQ, LAMAX, LAMIN, L10, L50, L90 = range(6)


@dataclass(frozen=True, slots=True)
class NoiseStats:
    """One period's statistics in dB(A), rounded to 0.1 dB."""

    laeq: float
    lamax: float
    lamin: float
    l10: float
    l50: float
    l90: float


def energetic_mean(levels_db: npt.ArrayLike, axis: int = -1) -> FloatArray:
    """Energy average 10·log10(mean(10^(L/10))) along `axis` (60 and 80 dB → 77 dB)."""
    levels = np.asarray(levels_db, dtype=np.float64)
    # Factor out the maximum so 10^(L/10) never overflows, whatever the levels.
    peak = levels.max(axis=axis, keepdims=True)
    mean = np.mean(np.power(10.0, (levels - peak) / 10.0), axis=axis, keepdims=True)
    result: FloatArray = np.squeeze(peak + 10.0 * np.log10(mean), axis=axis)
    return result


def period_levels(samples_db: npt.ArrayLike) -> FloatArray:
    """LAeq, LAmax, LAmin, L10, L50, L90 (columns) per row of a devices × seconds array."""
    samples = np.atleast_2d(np.asarray(samples_db, dtype=np.float64))
    if samples.shape[-1] == 0:
        raise ValueError("a period needs at least one sample")
    out = np.empty((*samples.shape[:-1], len(NOISE_METRICS)), dtype=np.float64)
    out[..., LAMAX] = samples.max(axis=-1)
    out[..., LAMIN] = samples.min(axis=-1)
    # L10 is exceeded 10 % of the time: the 90th percentile; likewise L50 and L90.
    out[..., L10], out[..., L50], out[..., L90] = np.percentile(samples, (90, 50, 10), axis=-1)
    out[..., LAEQ] = energetic_mean(samples)
    out = out.round(1)
    # Rounding is monotone, but float error may put a value one ulp outside its bounds;
    # clip so the contract's consistency rule (CONTRACT §2) holds exactly.
    lamin, lamax = out[..., LAMIN], out[..., LAMAX]
    np.clip(out[..., L90], lamin, lamax, out=out[..., L90])
    np.clip(out[..., L50], out[..., L90], lamax, out=out[..., L50])
    np.clip(out[..., L10], out[..., L50], lamax, out=out[..., L10])
    np.clip(out[..., LAEQ], lamin, lamax, out=out[..., LAEQ])
    return out


def noise_stats(samples_db: npt.ArrayLike) -> NoiseStats:
    """The statistics of one device's 1-D series of samples."""
    row = period_levels(np.asarray(samples_db, dtype=np.float64).reshape(1, -1))[0]
    return NoiseStats(*(float(v) for v in row))
