"""What the judge tells the engine: which rule, what began or ended, and the evidence.

The vocabulary shared by the breach rules (rules/breaches.py), the device checks and
the judge's loop (rules/judge.py), and the engine that turns events into cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from linli.rules.limits import Limit
from linli.rules.reading import SensorKind


class RuleId(StrEnum):
    """The rules linli runs; a case's identity is (site, rule)."""

    NOISE_LEQ = "noise_leq"
    NOISE_NIGHT_MAX = "noise_night_max"
    FUME_CONC = "fume_conc"
    PURIFIER_OFF = "purifier_off"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_STUCK = "device_stuck"
    DEVICE_IMPLAUSIBLE = "device_implausible"


def complaint_rule(kind: SensorKind) -> str:
    """The rule id of the `complaint` case a complaint of `kind` opens (one per site and kind)."""
    return f"complaint_{kind.value}"


BREACH_RULES: Final = {
    SensorKind.NOISE: (RuleId.NOISE_LEQ, RuleId.NOISE_NIGHT_MAX),
    SensorKind.FUME: (RuleId.FUME_CONC, RuleId.PURIFIER_OFF),
}
DEVICE_RULES: Final = (RuleId.DEVICE_OFFLINE, RuleId.DEVICE_STUCK, RuleId.DEVICE_IMPLAUSIBLE)


class Signal(StrEnum):
    """What the judge tells the engine."""

    BREACH = "breach"  # an episode began: a case opens or has one more occurrence
    EXTEND = "extend"  # the episode's window or worst grew (at most once per rule window)
    CLEAR = "clear"  # the episode ended; `breach` is its final extent
    FAULT = "fault"  # a device fault began
    RECOVER = "recover"  # the device fault ended


@dataclass(frozen=True, slots=True)
class Breach:
    """A rule broken: where, when, by how much, against which limit (the case's evidence)."""

    rule: RuleId
    site: str
    sensor: str
    start_ms: int
    end_ms: int
    measured: float
    unit: str
    limit: Limit | None
    summary: str
    late: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One thing the engine must act on; `breach` is set for all but RECOVER.

    For EXTEND and CLEAR it is the episode so far: the BREACH's `start_ms` (its
    occurrence's identity), the end of its latest reading over the limit, its worst value.
    """

    signal: Signal
    rule: RuleId
    site: str
    sensor: str
    ts_ms: int
    breach: Breach | None = None
