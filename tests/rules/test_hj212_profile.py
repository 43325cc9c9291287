"""HJ 212 device profiles (CONTRACT §8): which metric a device code stands for."""

from __future__ import annotations

import pytest

from linli.rules.hj212_profile import (
    DEFAULT_PROFILE,
    NOISE_CODES,
    CrcMode,
    Hj212Profile,
    Stamp,
    Stream,
)

FUME = Hj212Profile(
    id="lampblack-v1",
    crc=CrcMode.MODBUS,
    stamp=Stamp.END,
    codes={"LAMPBLACK": "oil_fume", "PM": "pm", "NMHC": "nmhc", "PURIFYAD": "purifier_current"},
    states={"FANSTATUS": "fan_on", "SB2": "purifier_on"},
)


@pytest.mark.parametrize(
    ("profile", "code", "metric"),
    [
        (DEFAULT_PROFILE, "Leq", "laeq"),
        (DEFAULT_PROFILE, "LA", "laeq"),
        (DEFAULT_PROFILE, "La", "laeq"),
        (DEFAULT_PROFILE, "LEQ", "laeq"),
        (DEFAULT_PROFILE, "LMx", "lamax"),
        (DEFAULT_PROFILE, "lmx", "lamax"),
        (DEFAULT_PROFILE, "LMn", "lamin"),
        (DEFAULT_PROFILE, "L10", "l10"),
        (DEFAULT_PROFILE, "l50", "l50"),
        (DEFAULT_PROFILE, "L90", "l90"),
        (DEFAULT_PROFILE, "L5", None),
        (DEFAULT_PROFILE, "a34004", None),
        (DEFAULT_PROFILE, "LAMPBLACK", None),
        (FUME, "LAMPBLACK", "oil_fume"),
        (FUME, "lampblack", "oil_fume"),
        (FUME, "PurifyAD", "purifier_current"),
        (FUME, "Leq", "laeq"),
        (FUME, "CONC", None),
        (Hj212Profile(id="odd", codes={"LA": "lamax"}), "la", "lamax"),
    ],
    ids=[
        "Leq → laeq",
        "LA → laeq",
        "La (lower case) → laeq",
        "LEQ (upper case) → laeq",
        "LMx → lamax",
        "lmx → lamax",
        "LMn → lamin",
        "L10 → l10",
        "l50 → l50",
        "L90 → l90",
        "L5: not kept",
        "a34004 without a profile: not kept",
        "a fume code without a profile: not kept",
        "profile code → its metric",
        "profile code in another case → its metric",
        "profile code mixed case → its metric",
        "noise codes still known beside a profile",
        "code the profile does not map: None",
        "profile codes before the built-in noise codes",
    ],
)
def test_metric(profile, code, metric):
    assert profile.metric(code) == metric


@pytest.mark.parametrize(
    ("code", "metric"),
    [("FANSTATUS", "fan_on"), ("fanstatus", "fan_on"), ("sb2", "purifier_on"), ("SB1", None)],
    ids=["state code", "state code any case", "SB code", "unmapped SB code"],
)
def test_state(code, metric):
    assert FUME.state(code) == metric


def test_defaults():
    p = DEFAULT_PROFILE
    assert (p.id, p.crc, p.stamp, p.rtd_period_s, p.min_period_s) == (
        "gb-noise",
        CrcMode.HJ212,
        Stamp.START,
        60,
        600,
    )
    assert dict(p.codes) == {} and dict(p.states) == {}
    assert p.readings is Stream.MINUTE  # period data, what platforms judge on
    assert set(NOISE_CODES.values()) == {"laeq", "lamax", "lamin", "l10", "l50", "l90"}


def test_strings_become_enums():
    p = Hj212Profile(id="x", crc="modbus_le", stamp="end", readings="2011")  # type: ignore[arg-type]
    assert p.crc is CrcMode.MODBUS_LE and p.stamp is Stamp.END and p.readings is Stream.RTD


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"codes": {"X": "oil"}}, "'X' maps to 'oil'"),
        ({"codes": {"FAN": "fan_on"}}, "'FAN' maps to 'fan_on'"),
        ({"states": {"SB1": "oil_fume"}}, "state 'SB1' maps to 'oil_fume'"),
        ({"codes": {"pm": "pm", "PM": "nmhc"}}, "code 'PM' given twice"),
        ({"crc": "crc32"}, "crc32"),
        ({"stamp": "middle"}, "middle"),
        ({"rtd_period_s": 0}, "rtd_period_s 0"),
        ({"min_period_s": -600}, "min_period_s -600"),
        ({"readings": "2031"}, "readings '2031' is not one of 2011, 2051, 2061"),
    ],
    ids=[
        "unknown metric",
        "an on/off metric among the codes",
        "a state to a measured metric",
        "one code twice in two cases",
        "unknown crc",
        "unknown stamp",
        "zero period",
        "negative period",
        "readings of no data CN kept",
    ],
)
def test_bad_profile(kwargs, words):
    with pytest.raises(ValueError, match=words):
        Hj212Profile(id="bad", **kwargs)
