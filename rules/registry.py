"""The street's inventory: grids (each in a community, CONTRACT §9), sites and sensors
(CONTRACT §5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from linli.rules.hj212_profile import DEFAULT_PROFILE, Hj212Device, Hj212Link, Hj212Profile
from linli.rules.reading import SensorKind


class Zone(StrEnum):
    """GB 3096-2008 §4 acoustic environment function zone class."""

    Z0 = "0"
    Z1 = "1"
    Z2 = "2"
    Z3 = "3"
    Z4A = "4a"
    Z4B = "4b"


class SiteKind(StrEnum):
    """A street-facing shop or a residential building."""

    SHOP = "shop"
    RESIDENTIAL = "residential"


@dataclass(frozen=True, slots=True)
class Contact:
    """A person linli can alert: a grid worker or a merchant's contact."""

    name: str
    phone: str | None = None
    channels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Grid:
    """A grid (网格) and the grid workers (网格员) who patrol it, in one community of the
    street (CONTRACT §9; "" when the deployment has not named its community)."""

    id: str
    name: str
    workers: tuple[Contact, ...] = ()
    community: str = ""


@dataclass(frozen=True, slots=True)
class Merchant:
    """The business operating a shop site."""

    name: str
    contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    """A place linli watches: a shop or a residential building, in one grid and one zone."""

    id: str
    name: str
    kind: SiteKind
    zone: Zone
    grid: str
    address: str = ""
    category: str = ""
    merchant: Merchant | None = None
    cooking_heads: float | None = None


@dataclass(frozen=True, slots=True)
class Sensor:
    """A device: its id is its MQTT client id and username; `hj212` for an HJ 212 monitor."""

    id: str
    kind: SensorKind
    site: str
    hj212: Hj212Link | None = None  # CONTRACT §8: it speaks HJ 212 over TCP


@dataclass(frozen=True, slots=True)
class SensorTags:
    """The InfluxDB tags a sensor's points carry, resolved from the registry at ingest."""

    sensor: str
    kind: SensorKind
    site: str
    grid: str
    zone: Zone
    community: str = ""  # the grid's community (CONTRACT §9); "" writes no tag


class Registry:
    """An immutable snapshot of grids, sites and sensors with the lookups ingest needs."""

    __slots__ = ("devices", "grids", "profiles", "sensors", "sites", "tags", "version")

    def __init__(
        self,
        grids: Iterable[Grid] = (),
        sites: Iterable[Site] = (),
        sensors: Iterable[Sensor] = (),
        version: int = 0,
        profiles: Iterable[Hj212Profile] = (),
    ) -> None:
        self.grids = {g.id: g for g in grids}
        self.sites = {s.id: s for s in sites}
        self.sensors = {s.id: s for s in sensors}
        self.version = version
        # HJ 212 (CONTRACT §8): the profiles, the built-in one included, and the monitors by MN
        self.profiles = {DEFAULT_PROFILE.id: DEFAULT_PROFILE, **{p.id: p for p in profiles}}
        self.devices: dict[str, Hj212Device] = {}
        for sensor in self.sensors.values():
            link = sensor.hj212
            if link is not None and link.profile in self.profiles:
                self.devices[link.mn] = Hj212Device(
                    sensor.id, sensor.kind, link.mn, link.pw, self.profiles[link.profile]
                )
        self.tags: dict[str, SensorTags] = {}
        for sensor in self.sensors.values():
            site = self.sites.get(sensor.site)
            if site is not None:
                grid = self.grids.get(site.grid)
                self.tags[sensor.id] = SensorTags(
                    sensor.id,
                    sensor.kind,
                    site.id,
                    site.grid,
                    site.zone,
                    grid.community if grid is not None else "",
                )

    def community_of(self, site_id: str) -> str:
        """The community of a site's grid; "" when it has none or is not registered."""
        site = self.sites.get(site_id)
        grid = self.grids.get(site.grid) if site is not None else None
        return grid.community if grid is not None else ""

    def __repr__(self) -> str:
        return (
            f"Registry(v{self.version}: {len(self.grids)} grids, "
            f"{len(self.sites)} sites, {len(self.sensors)} sensors)"
        )
