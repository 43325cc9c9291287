"""Energetic averaging, exact to 0.01 dB against hand-computed values."""

from __future__ import annotations

import pytest

from linli.rules.energy import energetic_mean, leq
from tests.rules.conftest import noise_at

CASES = [
    # 10·log10((10^6 + 10^8)/2) = 10·log10(5.05·10^7) = 77.03
    pytest.param([60, 80], None, 77.03, id="60 and 80 for equal times → 77.03, not 70"),
    pytest.param([50] * 10, None, 50.00, id="a constant level is its own mean"),
    # (60·10^7 + 540·10^5) / 600 = 1.09·10^6 → 60.37
    pytest.param([70, 50], [60, 540], 60.37, id="70 for 1 min and 50 for 9 min → 60.37"),
    # (10^5.5 + 10^6.5 + 10^7.5)/3 = 1.170·10^7 → 70.68
    pytest.param([55, 65, 75], None, 70.68, id="55, 65, 75 → 70.68"),
    # (10^4 + 10^4.3)/2 = 14976 → 41.75
    pytest.param([40, 43], None, 41.75, id="40 and 43 → 41.75"),
]


@pytest.mark.parametrize(("levels", "times", "expected"), CASES)
def test_energetic_mean(levels, times, expected):
    assert round(energetic_mean(levels, times), 2) == expected


def test_leq_weights_readings_by_their_period():
    readings = [noise_at(60_000, 70, period_s=60), noise_at(600_000, 50, period_s=540)]
    assert round(leq(readings), 2) == 60.37


@pytest.mark.parametrize(
    ("levels", "times"),
    [
        pytest.param([], None, id="no levels → error"),
        pytest.param([50], [0], id="no time → error"),
        pytest.param([50, 60], [1], id="levels and durations of different lengths → error"),
    ],
)
def test_energetic_mean_refuses_nonsense(levels, times):
    with pytest.raises(ValueError):
        energetic_mean(levels, times)
