"""Energetic averaging of sound levels (CONTRACT §4, docs/domain.md "Noise statistics").

Decibels are logarithms of energy, so they are averaged through energy:
`Leq = 10·log10( Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ )` (GB 3096-2008 附录 / HJ 906). 60 dB and
80 dB for equal times give 77.0 dB, not 70.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from linli.rules.reading import Reading


def sound_energy(level_db: float, seconds: float) -> float:
    """`t·10^(L/10)`: a level held for `seconds`, as (relative) sound energy."""
    return seconds * 10 ** (level_db / 10)


def level_of(energy: float, seconds: float) -> float:
    """`10·log10(E / t)`: the equivalent level of a sound energy spread over `seconds`."""
    return 10 * math.log10(energy / seconds)


def energetic_mean(levels_db: Sequence[float], durations_s: Sequence[float] | None = None) -> float:
    """`10·log10(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ)`; equal times when no durations are given."""
    if not levels_db:
        raise ValueError("energetic_mean of no levels")
    times = durations_s if durations_s is not None else [1.0] * len(levels_db)
    if len(times) != len(levels_db):
        raise ValueError(f"{len(levels_db)} levels but {len(times)} durations")
    total_t = math.fsum(times)
    if total_t <= 0:
        raise ValueError("energetic_mean over no time")
    energy = math.fsum(sound_energy(level, t) for level, t in zip(levels_db, times, strict=True))
    return level_of(energy, total_t)


def leq(readings: Iterable[Reading], metric: str = "laeq") -> float:
    """The equivalent level of noise readings, each weighted by its `period_s`."""
    levels: list[float] = []
    times: list[float] = []
    for r in readings:
        value = r.metrics.get(metric)
        if isinstance(value, float | int) and not isinstance(value, bool):
            levels.append(float(value))
            times.append(float(r.period_s))
    return energetic_mean(levels, times)
