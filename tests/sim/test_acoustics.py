"""Period statistics: energetic LAeq, percentile levels, the contract's ordering rule."""

from __future__ import annotations

import numpy as np
import pytest

from linli.sim.acoustics import (
    L10,
    L50,
    L90,
    LAEQ,
    LAMAX,
    LAMIN,
    NoiseStats,
    energetic_mean,
    noise_stats,
    period_levels,
)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        pytest.param([60, 80], 77.03, id="60 and 80 dB for equal times give 77 dB, not 70"),
        pytest.param([60, 60, 60], 60.0, id="equal levels average to themselves"),
        pytest.param([70, 70], 70.0, id="two equal sources over time stay 70"),
        pytest.param([50, 60], 57.4, id="10 dB apart: the louder dominates"),
        pytest.param([40, 50, 60, 70, 80], 73.47, id="five decades"),
        pytest.param([0, 140], 136.99, id="extremes do not overflow"),
    ],
)
def test_energetic_mean(levels: list[float], expected: float) -> None:
    assert round(float(energetic_mean(levels)), 2) == pytest.approx(expected, abs=0.005)


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param(
            [60, 80], NoiseStats(77.0, 80.0, 60.0, 78.0, 70.0, 62.0), id="two samples: LAeq 77.0"
        ),
        pytest.param(
            [40, 50, 60, 70, 80],
            NoiseStats(73.5, 80.0, 40.0, 76.0, 60.0, 44.0),
            id="L10 is the 90th percentile, L90 the 10th",
        ),
        pytest.param(
            list(range(1, 101)),
            NoiseStats(86.9, 100.0, 1.0, 90.1, 50.5, 10.9),
            id="1..100 dB: L10 90.1, L50 50.5, L90 10.9",
        ),
        pytest.param([55.55], NoiseStats(55.6, 55.6, 55.6, 55.6, 55.6, 55.6), id="one sample"),
        pytest.param(
            [48.0] * 60, NoiseStats(48.0, 48.0, 48.0, 48.0, 48.0, 48.0), id="steady noise"
        ),
    ],
)
def test_noise_stats_hand_computed(samples: list[float], expected: NoiseStats) -> None:
    assert noise_stats(samples) == expected


def test_vectorised_rows_equal_one_device_at_a_time() -> None:
    rng = np.random.default_rng(7)
    samples = rng.uniform(30, 90, (50, 60))
    table = period_levels(samples)
    assert table.shape == (50, 6)
    for row, series in zip(table, samples, strict=True):
        assert NoiseStats(*row.tolist()) == noise_stats(series)


@pytest.mark.parametrize(
    ("seed", "shape"),
    [
        pytest.param(1, (2000, 60), id="2000 devices x 1 minute"),
        pytest.param(2, (10_000, 1), id="10000 devices x 1 second"),
        pytest.param(3, (500, 7), id="odd period"),
        pytest.param(4, (300, 3600), id="hourly periods"),
    ],
)
def test_ordering_rule_holds_on_random_data(seed: int, shape: tuple[int, int]) -> None:
    """CONTRACT §2: lamin ≤ l90 ≤ l50 ≤ l10 ≤ lamax and lamin ≤ laeq ≤ lamax."""
    rng = np.random.default_rng(seed)
    samples = rng.uniform(20, 130, shape) + rng.normal(0, 10, (shape[0], 1))
    samples[::17] = 63.25  # constant rows: rounding ties, laeq == min == max
    s = period_levels(samples)
    assert np.all(s[:, LAMIN] <= s[:, L90])
    assert np.all(s[:, L90] <= s[:, L50])
    assert np.all(s[:, L50] <= s[:, L10])
    assert np.all(s[:, L10] <= s[:, LAMAX])
    assert np.all((s[:, LAMIN] <= s[:, LAEQ]) & (s[:, LAEQ] <= s[:, LAMAX]))
    assert np.array_equal(s, np.round(s, 1))
    assert np.all(s[::17] == 63.2)  # round half to even


def test_a_period_needs_samples() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        period_levels(np.empty((3, 0)))
