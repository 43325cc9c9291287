"""Scripted nuisances and faults, loaded from a TOML file (format: scenarios/tianxin.toml)."""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

SCENARIO_DIR: Final = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the event and the key."""


class EventType(StrEnum):
    """What an event does to its sensor."""

    NOISE = "noise"  # add N dB to, or set, the sound level
    FUME = "fume"  # multiply, or set, the oil-fume concentration
    PURIFIER_OFF = "purifier_off"  # the purifier stops while the fan runs (装而不用)
    OFFLINE = "offline"  # the device loses its connection, buffers, then backfills
    STUCK = "stuck"  # the device repeats its last values
    BAD_PAYLOAD = "bad_payload"  # one malformed message, to demo rejections


class BadVariant(StrEnum):
    """Which contract rule a bad payload breaks (CONTRACT §3 reason codes)."""

    NOT_JSON = "not_json"
    SCHEMA = "schema"
    OUT_OF_RANGE = "out_of_range"
    INCONSISTENT = "inconsistent"
    KIND_MISMATCH = "kind_mismatch"
    TS_OUT_OF_RANGE = "ts_out_of_range"
    SEQ_OVERFLOW = "seq_overflow"  # seq 2^64 − 1: more than InfluxDB's int64 holds
    CONFLICT = "conflict"  # the last reading's ts and seq again, with other values


# Keys each event type takes beyond sensor, type, at, for and note.
_KEYS: Final[Mapping[EventType, frozenset[str]]] = {
    EventType.NOISE: frozenset({"add_db", "set_db"}),
    EventType.FUME: frozenset({"factor", "set_mg_m3"}),
    EventType.PURIFIER_OFF: frozenset(),
    EventType.OFFLINE: frozenset(),
    EventType.STUCK: frozenset(),
    EventType.BAD_PAYLOAD: frozenset({"variant", "payload"}),
}
_COMMON: Final = frozenset({"sensor", "type", "at", "for", "note"})
_DURATION: Final = re.compile(r"(\d+(?:\.\d*)?)\s*([dhms])")


@dataclass(frozen=True, slots=True)
class ScenarioEvent:
    """One scripted event of one sensor; times in simulated seconds after the sim start."""

    sensor: str
    type: EventType
    at_s: int
    for_s: int = 0
    add_db: float | None = None
    set_db: float | None = None
    factor: float | None = None
    set_mg_m3: float | None = None
    variant: BadVariant = BadVariant.NOT_JSON
    payload: bytes | None = None

    @property
    def end_s(self) -> int:
        """First second after the event (equal to `at_s` for a one-shot bad payload)."""
        return self.at_s + self.for_s


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named list of events."""

    name: str
    description: str
    events: tuple[ScenarioEvent, ...]

    def sensors(self) -> frozenset[str]:
        """The sensor ids the scenario refers to."""
        return frozenset(e.sensor for e in self.events)


def parse_duration(value: str | int | float) -> int:
    """Seconds in `90`, `"90"`, `"45s"`, `"2m"`, `"1h30m"`, `"1.5m"`, `"2d"` (rounded up)."""
    if isinstance(value, bool):
        raise ScenarioError(f"duration {value!r} is not a number or text like '2m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d*)?", text):
            seconds = float(text)
        else:
            parts = _DURATION.findall(text)
            if not parts or _DURATION.sub("", text).strip():
                raise ScenarioError(f"duration {value!r} is not like 90, '45s', '2m' or '1h30m'")
            scale = {"d": 86_400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
            seconds = sum(float(n) * scale[u] for n, u in parts)
    if seconds < 0:
        raise ScenarioError(f"duration {value!r} is negative")
    return int(-(-seconds // 1))


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; a bare name like `tianxin` means one of the shipped ones."""
    file = Path(path)
    if not file.exists() and file.suffix == "" and (SCENARIO_DIR / f"{file}.toml").exists():
        file = SCENARIO_DIR / f"{file}.toml"
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ScenarioError(f"scenario {str(path)!r}: {err}") from err
    return parse_scenario(data, source=str(file))


def parse_scenario(data: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """Build a scenario from parsed TOML."""
    raw_events = data.get("event", [])
    if not isinstance(raw_events, list):
        raise ScenarioError(f"{source}: 'event' must be an array of tables ([[event]])")
    events = tuple(_event(raw, f"{source}: event {i + 1}") for i, raw in enumerate(raw_events))
    _check_overlaps(events, source)
    return Scenario(
        name=str(data.get("name", Path(source).stem)),
        description=str(data.get("description", "")),
        events=tuple(sorted(events, key=lambda e: e.at_s)),
    )


def _event(raw: Any, where: str) -> ScenarioEvent:
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: not a table")
    try:
        kind = EventType(str(raw.get("type")))
    except ValueError:
        known = ", ".join(t.value for t in EventType)
        raise ScenarioError(f"{where}: type {raw.get('type')!r} is not one of {known}") from None
    unknown = set(raw) - _COMMON - _KEYS[kind]
    if unknown:
        raise ScenarioError(f"{where}: {kind} takes no key {', '.join(sorted(unknown))}")
    sensor = raw.get("sensor")
    if not isinstance(sensor, str) or not sensor:
        raise ScenarioError(f"{where}: 'sensor' must be a sensor id")
    if "at" not in raw:
        raise ScenarioError(f"{where}: 'at' is missing")
    at_s = parse_duration(raw["at"])
    for_s = parse_duration(raw["for"]) if "for" in raw else 0
    if kind is not EventType.BAD_PAYLOAD and for_s <= 0:
        raise ScenarioError(f"{where}: {kind} needs a positive 'for'")
    levels = _KEYS[kind] - {"variant", "payload"}
    values = {k: _number(raw[k], f"{where}: {k}") for k in sorted(levels) if k in raw}
    if kind in (EventType.NOISE, EventType.FUME) and len(values) != 1:
        one_of = " or ".join(sorted(_KEYS[kind]))
        raise ScenarioError(f"{where}: {kind} needs exactly one of {one_of}")
    if "factor" in values and values["factor"] < 0:
        raise ScenarioError(f"{where}: factor {values['factor']} is negative")
    try:
        variant = BadVariant(raw.get("variant", BadVariant.NOT_JSON))
    except ValueError:
        known = ", ".join(v.value for v in BadVariant)
        raise ScenarioError(f"{where}: variant {raw['variant']!r} is not one of {known}") from None
    payload = raw.get("payload")
    if payload is not None and not isinstance(payload, str):
        raise ScenarioError(f"{where}: payload must be a string")
    return ScenarioEvent(
        sensor=sensor,
        type=kind,
        at_s=at_s,
        for_s=for_s,
        variant=variant,
        payload=payload.encode() if payload is not None else None,
        add_db=values.get("add_db"),
        set_db=values.get("set_db"),
        factor=values.get("factor"),
        set_mg_m3=values.get("set_mg_m3"),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}: {value!r} is not a number")
    return float(value)


def _check_overlaps(events: tuple[ScenarioEvent, ...], source: str) -> None:
    # Offline and stuck spells switch a device's state on and off; overlapping spells of
    # one kind on one sensor would make "off" ambiguous, so they are refused.
    for kind in (EventType.OFFLINE, EventType.STUCK):
        spells: dict[str, list[ScenarioEvent]] = {}
        for e in events:
            if e.type is kind:
                spells.setdefault(e.sensor, []).append(e)
        for sensor, items in spells.items():
            items.sort(key=lambda e: e.at_s)
            for a, b in itertools.pairwise(items):
                if b.at_s < a.end_s:
                    raise ScenarioError(
                        f"{source}: {kind} spells of sensor {sensor!r} overlap "
                        f"({a.at_s}-{a.end_s}s and {b.at_s}-{b.end_s}s)"
                    )
