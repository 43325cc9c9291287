"""HJ 212 device profiles and the monitors the registry knows (CONTRACT §8, docs/hj212.md).

HJ 212-2017 has no codes for cooking fume: each monitor model names its factors its own
way, so the mapping from a device's codes to linli's metrics is a profile in
configuration, one per model. GB noise codes are built in: a noise station needs none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from linli.rules.reading import METRICS, SensorKind


class CrcMode(StrEnum):
    """The checksum a monitor model's data logger puts on its frames."""

    HJ212 = "hj212"  # the standard's Appendix A (CRC-16/MODBUS's shift, its own print)
    MODBUS = "modbus"  # CRC-16/MODBUS, printed high byte first
    MODBUS_LE = "modbus_le"  # CRC-16/MODBUS, bytes swapped (low byte first)


class Stream(StrEnum):
    """The data CN whose uploads become readings (the others are answered, not stored)."""

    RTD = "2011"  # real-time data
    MINUTE = "2051"  # minute data: period data, what platforms judge on (the default)
    HOUR = "2061"  # hour data


class Stamp(StrEnum):
    """Which end of its period a period value's DataTime names."""

    START = "start"  # the standard (2051/2061/2031: the period's start)
    END = "end"  # some fume loggers stamp the period's end


# The metrics a state code may set (CONTRACT §8: 1 = on).
STATE_METRICS: Final = frozenset({"fan_on", "purifier_on"})

# HJ 212-2017 Table B.3 noise codes (dB) linli keeps; stations send any case (`La`).
NOISE_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "Leq": "laeq",
        "LA": "laeq",
        "LMx": "lamax",
        "LMn": "lamin",
        "L10": "l10",
        "L50": "l50",
        "L90": "l90",
    }
)
_NOISE_LOOKUP: Final = MappingProxyType({k.casefold(): v for k, v in NOISE_CODES.items()})


def _folded(table: Mapping[str, str], what: str, profile: str) -> Mapping[str, str]:
    """`table` keyed by case-folded code; two codes differing only in case must agree."""
    out: dict[str, str] = {}
    for code, metric in table.items():
        key = code.casefold()
        if key in out and out[key] != metric:
            raise ValueError(
                f"profile {profile!r}: {what} {code!r} given twice (any case) "
                f"as {out[key]!r} and {metric!r}"
            )
        out[key] = metric
    return MappingProxyType(out)


@dataclass(frozen=True, slots=True)
class Hj212Profile:
    """One monitor model: its CRC, its DataTime stamping, its periods, its codes, and
    the one data CN whose uploads become readings (`readings`): a monitor sending
    real-time and minute data would otherwise give two readings ending at one moment."""

    id: str
    crc: CrcMode = CrcMode.HJ212
    stamp: Stamp = Stamp.START  # DataTime of period data is the period's start | end
    rtd_period_s: int = 60  # the period a 2011 real-time value stands for
    min_period_s: int = 600  # 2051's period (the device's MinInterval)
    codes: Mapping[str, str] = field(default_factory=dict)  # device code -> linli metric
    states: Mapping[str, str] = field(default_factory=dict)  # state code -> fan_on | purifier_on
    readings: Stream = Stream.MINUTE  # the CN stored; the other data CNs: answered only
    _codes: Mapping[str, str] = field(init=False, repr=False, compare=False)
    _states: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the profile once, where it is read; keep its tables case-folded."""
        if not self.id:
            raise ValueError("a profile needs an id")
        object.__setattr__(self, "crc", CrcMode(self.crc))
        object.__setattr__(self, "stamp", Stamp(self.stamp))
        try:
            object.__setattr__(self, "readings", Stream(self.readings))
        except ValueError:
            raise ValueError(
                f"profile {self.id!r}: readings {self.readings!r} is not one of "
                f"{', '.join(s.value for s in Stream)}"
            ) from None
        for name in ("rtd_period_s", "min_period_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"profile {self.id!r}: {name} {value!r} is not a positive integer")
        for code, metric in self.codes.items():
            if metric not in METRICS or metric in STATE_METRICS:
                raise ValueError(
                    f"profile {self.id!r}: code {code!r} maps to {metric!r}, "
                    "which is not a measured metric of CONTRACT §2"
                )
        for code, metric in self.states.items():
            if metric not in STATE_METRICS:
                raise ValueError(
                    f"profile {self.id!r}: state {code!r} maps to {metric!r}, "
                    f"not one of {', '.join(sorted(STATE_METRICS))}"
                )
        object.__setattr__(self, "codes", MappingProxyType(dict(self.codes)))
        object.__setattr__(self, "states", MappingProxyType(dict(self.states)))
        object.__setattr__(self, "_codes", _folded(self.codes, "code", self.id))
        object.__setattr__(self, "_states", _folded(self.states, "state", self.id))

    def metric(self, code: str) -> str | None:
        """The linli metric a device code stands for: the profile's codes, then GB noise codes."""
        key = code.casefold()
        return self._codes.get(key) or _NOISE_LOOKUP.get(key)

    def state(self, code: str) -> str | None:
        """The on/off metric a state code sets (`fan_on`/`purifier_on`), or None."""
        return self._states.get(code.casefold())


# Noise stations speak the GB codes and the standard's stamping: they need no profile.
DEFAULT_PROFILE: Final = Hj212Profile(id="gb-noise")


# An MN as devices send it (the standard: 24 hex digits; real loggers: 14–16 digits) and
# a password (the standard: 6 characters): nothing that breaks a data segment's `;`/`=`.
MN_PATTERN: Final = r"[A-Za-z0-9_.-]{1,64}"
PW_PATTERN: Final = r"[!-%'-+\--:<>-~]{1,64}"  # printable ASCII but `&`, `,`, `;` and `=`
_MN: Final = re.compile(MN_PATTERN)
_PW: Final = re.compile(PW_PATTERN)


def check_link(mn: str, pw: str) -> str | None:
    """Why an MN and password cannot be a monitor's, or None when they can."""
    if not _MN.fullmatch(mn):
        return f"mn {mn!r} does not match {MN_PATTERN}"
    if not _PW.fullmatch(pw):
        return "pw must be 1 to 64 printable ASCII characters without ; , = &"
    return None


@dataclass(frozen=True, slots=True)
class Hj212Link:
    """A sensor's HJ 212 block in the registry: the monitor's MN, password and profile id."""

    mn: str
    pw: str
    profile: str = DEFAULT_PROFILE.id


@dataclass(frozen=True, slots=True)
class Hj212Device:
    """A registered monitor: the sensor it is, and how it speaks."""

    sensor: str  # the registry's sensor id
    kind: SensorKind
    mn: str
    pw: str
    profile: Hj212Profile


class Hj212Registry(Protocol):
    """What the listener asks, per frame (a monitor registered a moment ago is known)."""

    def device(self, mn: str) -> Hj212Device | None:
        """The monitor with this MN, or None when no sensor has it."""
        ...
