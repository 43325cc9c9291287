"""Where the fleet's sensors come from: a community TOML file, or N synthetic ones."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .device import Kind, SensorSpec
from .hj212 import Crc, Model, Stamp
from .monitors import MonitorSpec
from .profiles import PROFILES

# Synthetic sensors cycle through these, so any N gives a mix of site types.
NOISE_PROFILES: Final = ("residential", "restaurant", "ktv", "bbq", "convenience", "traffic")
FUME_PROFILES: Final = ("restaurant", "bbq")


class CommunityError(ValueError):
    """A community file the simulator cannot take its sensors from."""


def load_community(path: str | Path) -> list[SensorSpec]:
    """The `[[sensor]]` tables of a community file, each with its `[[site]]`'s profile."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CommunityError(f"community {str(path)!r}: {err}") from err
    return community_sensors(data, source=str(path))


def community_sensors(data: Mapping[str, Any], source: str = "community") -> list[SensorSpec]:
    """Sensors from parsed community TOML; keys the simulator does not need are ignored."""
    profiles: dict[str, str] = {}
    for i, site in enumerate(_tables(data, "site", source)):
        name = site.get("id")
        if not isinstance(name, str):
            raise CommunityError(f"{source}: site {i + 1} has no id")
        default = "residential" if site.get("kind") == "residential" else "convenience"
        profile = site.get("profile", default)
        if profile not in PROFILES:
            known = ", ".join(PROFILES)
            raise CommunityError(
                f"{source}: site {name!r}: profile {profile!r} is not one of {known}"
            )
        profiles[name] = profile
    sensors: list[SensorSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(_tables(data, "sensor", source)):
        sensor_id, kind, site_id = raw.get("id"), raw.get("kind"), raw.get("site")
        where = f"{source}: sensor {sensor_id or i + 1!r}"
        if not isinstance(sensor_id, str) or sensor_id in seen:
            raise CommunityError(f"{where}: missing or repeated id")
        if kind not in (Kind.NOISE, Kind.FUME):
            raise CommunityError(f"{where}: kind {kind!r} is not 'noise' or 'fume'")
        if not isinstance(site_id, str) or site_id not in profiles:
            raise CommunityError(f"{where}: site {site_id!r} is not a [[site]] of the file")
        try:
            sensors.append(SensorSpec(sensor_id, Kind(kind), profiles[site_id], site_id))
        except ValueError as err:
            raise CommunityError(f"{where}: {err}") from None
        seen.add(sensor_id)
    if not sensors:
        raise CommunityError(f"{source}: no [[sensor]] tables")
    return sensors


def load_monitors(path: str | Path, sensors: list[SensorSpec]) -> list[MonitorSpec]:
    """The sensors of a community file that are HJ 212 monitors (`hj212 = { … }`)."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise CommunityError(f"community {str(path)!r}: {err}") from err
    return community_monitors(data, sensors, source=str(path))


def community_monitors(
    data: Mapping[str, Any], sensors: list[SensorSpec], source: str = "community"
) -> list[MonitorSpec]:
    """Monitors from parsed community TOML: each `[[sensor]]` with an `hj212` block, its
    `[[hj212_profile]]` read as the logger model (the built-in `gb-noise` by default)."""
    models = {"gb-noise": Model()}
    for i, raw in enumerate(_tables(data, "hj212_profile", source)):
        try:
            codes, states = dict(raw.get("codes", {})), dict(raw.get("states", {}))
            models[raw["id"]] = Model(
                id=raw["id"],
                crc=Crc(raw.get("crc", Crc.HJ212)),
                stamp=Stamp(raw.get("stamp", Stamp.START)),
                rtd_period_s=int(raw.get("rtd_period_s", 60)),
                min_period_s=int(raw.get("min_period_s", 600)),
                codes={metric: code for code, metric in reversed(codes.items())},
                states={metric: code for code, metric in reversed(states.items())},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise CommunityError(f"{source}: hj212_profile {i + 1}: {err}") from None
    specs = {s.id: s for s in sensors}
    monitors: list[MonitorSpec] = []
    for raw in _tables(data, "sensor", source):
        block = raw.get("hj212")
        if block is None or raw.get("id") not in specs:
            continue
        where = f"{source}: sensor {raw['id']!r}: hj212"
        if not isinstance(block, dict) or not {"mn", "pw"} <= block.keys():
            raise CommunityError(f"{where}: needs mn and pw")
        model = models.get(block.get("profile", "gb-noise"))
        if model is None:
            raise CommunityError(f"{where}: profile {block.get('profile')!r} is not defined")
        monitors.append(MonitorSpec(specs[raw["id"]], str(block["mn"]), str(block["pw"]), model))
    return monitors


def synthetic_sensors(count: int, fume_share: float = 0.25) -> list[SensorSpec]:
    """`count` sensors `sim-n-00001`… and `sim-f-00001`…, a `fume_share` of them fume."""
    if count < 1:
        raise ValueError(f"sensor count {count} is not positive")
    fume = round(count * fume_share)
    noise = count - fume
    width = max(5, len(str(count)))
    return [
        SensorSpec(f"sim-n-{i + 1:0{width}d}", Kind.NOISE, NOISE_PROFILES[i % len(NOISE_PROFILES)])
        for i in range(noise)
    ] + [
        SensorSpec(f"sim-f-{i + 1:0{width}d}", Kind.FUME, FUME_PROFILES[i % len(FUME_PROFILES)])
        for i in range(fume)
    ]


def _tables(data: Mapping[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    tables = data.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise CommunityError(f"{source}: {key!r} must be an array of tables ([[{key}]])")
    return tables
