"""CONTRACT §2 as test assertions: the shape, ranges and consistency of a reading."""

from __future__ import annotations

from typing import Any

NOISE_RANGES = {
    "laeq": (20, 140),
    "lamax": (0, 150),
    "lamin": (0, 150),
    "l10": (0, 140),
    "l50": (0, 140),
    "l90": (0, 140),
}
FUME_RANGES = {"oil_fume": (0, 50), "pm": (0, 50), "nmhc": (0, 200), "purifier_current": (0, 100)}
FUME_FLAGS = ("fan_on", "purifier_on")


def assert_valid_reading(reading: Any, kind: str) -> None:
    """A reading as linli accepts it: keys, types, ranges, and for noise the ordering rule."""
    assert isinstance(reading, dict)
    assert set(reading) == {"ts", "seq", "period_s", "metrics"}
    assert isinstance(reading["ts"], int) and reading["ts"] > 1_700_000_000_000
    assert isinstance(reading["seq"], int) and reading["seq"] >= 0
    assert isinstance(reading["period_s"], int) and 1 <= reading["period_s"] <= 3600
    m = reading["metrics"]
    if kind == "noise":
        assert set(m) == set(NOISE_RANGES)
        for name, (low, high) in NOISE_RANGES.items():
            assert isinstance(m[name], float) and low <= m[name] <= high, (name, m[name])
            assert round(m[name], 1) == m[name]
        assert m["lamin"] <= m["l90"] <= m["l50"] <= m["l10"] <= m["lamax"]
        assert m["lamin"] <= m["laeq"] <= m["lamax"]
    else:
        assert set(m) == set(FUME_RANGES) | set(FUME_FLAGS)
        for name, (low, high) in FUME_RANGES.items():
            assert isinstance(m[name], float) and low <= m[name] <= high, (name, m[name])
        assert all(isinstance(m[flag], bool) for flag in FUME_FLAGS)
