"""Where the fleet's sensors come from: a community TOML file, or N synthetic ones."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .device import Kind, SensorSpec
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
