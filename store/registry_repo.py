"""Grids, sites and sensors in the relational store, with the rules an entry must keep."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import Connection, Row, Table, delete, insert, select, update

from linli.rules.constants import SENSOR_ID_PATTERN
from linli.rules.hj212_profile import (
    DEFAULT_PROFILE,
    CrcMode,
    Hj212Link,
    Hj212Profile,
    Stamp,
    Stream,
    check_link,
)
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.store.errors import Dangling, Duplicate, Invalid, NotFound
from linli.store.records import CommunityRecord, GridRecord, SiteRecord
from linli.store.tables import (
    REGISTRY_VERSION,
    communities,
    grids,
    hj212_profiles,
    meta,
    sensors,
    sites,
)

# Grid and site ids appear in URL paths and as InfluxDB tag values: keep them plain.
ENTRY_ID_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
# A community's id (CONTRACT §9): a URL path segment, a tag value, a token's scope.
COMMUNITY_ID_PATTERN: Final = r"[a-z0-9][a-z0-9-]{1,31}"
_ENTRY_ID = re.compile(ENTRY_ID_PATTERN)
_SENSOR_ID = re.compile(SENSOR_ID_PATTERN)

Entry = TypeVar("Entry", GridRecord, SiteRecord, Sensor, Hj212Profile)


# -- rows <-> values ---------------------------------------------------------------


def _contacts_json(contacts: Iterable[Contact]) -> list[dict[str, Any]]:
    return [{"name": c.name, "phone": c.phone, "channels": dict(c.channels)} for c in contacts]


def _contacts(doc: Sequence[Mapping[str, Any]]) -> tuple[Contact, ...]:
    return tuple(Contact(d["name"], d.get("phone"), dict(d.get("channels") or {})) for d in doc)


def _grid_row(grid: GridRecord) -> dict[str, Any]:
    return {
        "id": grid.id,
        "name": grid.name,
        "name_en": grid.name_en,
        "workers": _contacts_json(grid.workers),
        "community": grid.community,
    }


def _grid(row: Row[Any]) -> GridRecord:
    m = row._mapping
    return GridRecord(
        m["id"],
        m["name"],
        _contacts(m["workers"]),
        name_en=m["name_en"],
        community=m["community"],
    )


def _site_row(site: SiteRecord) -> dict[str, Any]:
    merchant = site.merchant
    return {
        "id": site.id,
        "name": site.name,
        "name_en": site.name_en,
        "kind": site.kind.value,
        "zone": site.zone.value,
        "grid": site.grid,
        "address": site.address,
        "category": site.category,
        "merchant": None
        if merchant is None
        else {"name": merchant.name, "contacts": _contacts_json(merchant.contacts)},
        "cooking_heads": site.cooking_heads,
    }


def _site(row: Row[Any]) -> SiteRecord:
    m = row._mapping
    merchant = m["merchant"]
    return SiteRecord(
        id=m["id"],
        name=m["name"],
        kind=SiteKind(m["kind"]),
        zone=Zone(m["zone"]),
        grid=m["grid"],
        address=m["address"],
        category=m["category"],
        merchant=None
        if merchant is None
        else Merchant(merchant["name"], _contacts(merchant.get("contacts") or [])),
        cooking_heads=m["cooking_heads"],
        name_en=m["name_en"],
    )


def _sensor_row(sensor: Sensor) -> dict[str, Any]:
    link = sensor.hj212
    return {
        "id": sensor.id,
        "kind": sensor.kind.value,
        "site": sensor.site,
        "hj212_mn": None if link is None else link.mn,
        "hj212_pw": None if link is None else link.pw,
        "hj212_profile": None if link is None else link.profile,
    }


def _sensor(row: Row[Any]) -> Sensor:
    m = row._mapping
    mn = m["hj212_mn"]
    link = None if mn is None else Hj212Link(mn, m["hj212_pw"], m["hj212_profile"])
    return Sensor(m["id"], SensorKind(m["kind"]), m["site"], link)


def _profile_row(profile: Hj212Profile) -> dict[str, Any]:
    return {
        "id": profile.id,
        "doc": {
            "crc": profile.crc.value,
            "stamp": profile.stamp.value,
            "rtd_period_s": profile.rtd_period_s,
            "min_period_s": profile.min_period_s,
            "codes": dict(profile.codes),
            "states": dict(profile.states),
            "readings": profile.readings.value,
        },
    }


def _profile(row: Row[Any]) -> Hj212Profile:
    m = row._mapping
    doc = m["doc"]
    return Hj212Profile(
        m["id"],
        CrcMode(doc["crc"]),
        Stamp(doc["stamp"]),
        int(doc["rtd_period_s"]),
        int(doc["min_period_s"]),
        dict(doc.get("codes") or {}),
        dict(doc.get("states") or {}),
        Stream(doc.get("readings") or Stream.MINUTE),  # stored before `readings`: 2051
    )


# -- the rules an entry keeps ------------------------------------------------------


def _check_grid(conn: Connection, grid: GridRecord) -> None:
    _check_id("grid", grid.id, _ENTRY_ID, ENTRY_ID_PATTERN)
    _check_name("grid", grid.id, grid.name)
    if grid.community and not _exists(conn, communities, grid.community):
        raise Invalid(f"grid {grid.id!r}: community {grid.community!r} does not exist")


def _check_site(conn: Connection, site: SiteRecord) -> None:
    _check_id("site", site.id, _ENTRY_ID, ENTRY_ID_PATTERN)
    _check_name("site", site.id, site.name)
    if not _exists(conn, grids, site.grid):
        raise Dangling(f"site {site.id!r}: grid {site.grid!r} does not exist")
    if site.cooking_heads is not None and site.cooking_heads < 0:
        raise Invalid(f"site {site.id!r}: cooking_heads {site.cooking_heads} is negative")


def _check_sensor(conn: Connection, sensor: Sensor) -> None:
    _check_id("sensor", sensor.id, _SENSOR_ID, SENSOR_ID_PATTERN)
    if not _exists(conn, sites, sensor.site):
        raise Dangling(f"sensor {sensor.id!r}: site {sensor.site!r} does not exist")
    link = sensor.hj212
    if link is None:
        return
    why = check_link(link.mn, link.pw)
    if why is not None:
        raise Invalid(f"sensor {sensor.id!r}: hj212 {why}")
    if link.profile != DEFAULT_PROFILE.id and not _exists(conn, hj212_profiles, link.profile):
        raise Dangling(f"sensor {sensor.id!r}: hj212 profile {link.profile!r} does not exist")
    holder = conn.execute(
        select(sensors.c.id).where(sensors.c.hj212_mn == link.mn, sensors.c.id != sensor.id)
    ).first()
    if holder is not None:  # CONTRACT §8: an MN belongs to one sensor (which, not said here)
        raise Duplicate(f"sensor {sensor.id!r}: hj212 mn {link.mn!r} is another sensor's")


def _check_profile(conn: Connection, profile: Hj212Profile) -> None:
    _check_id("hj212 profile", profile.id, _ENTRY_ID, ENTRY_ID_PATTERN)
    if profile.id == DEFAULT_PROFILE.id:
        raise Invalid(f"hj212 profile {profile.id!r} is built in: give yours another id")


def _check_id(what: str, value: str, pattern: re.Pattern[str], text: str) -> None:
    if not pattern.fullmatch(value):
        raise Invalid(f"{what} id {value!r} does not match {text}")


def _check_name(what: str, entry_id: str, name: str) -> None:
    if not name.strip():
        raise Invalid(f"{what} {entry_id!r}: name is empty")


def _exists(conn: Connection, table: Table, entry_id: str) -> bool:
    return conn.execute(select(table.c.id).where(table.c.id == entry_id)).first() is not None


# -- one kind of entry: its table, codec and rules ---------------------------------


@dataclass(frozen=True, slots=True)
class _Kind:
    """How one kind of entry is stored and checked."""

    what: str
    table: Table
    encode: Callable[[Any], dict[str, Any]]
    decode: Callable[[Row[Any]], Any]
    check: Callable[[Connection, Any], None]


_KINDS: Final[dict[type, _Kind]] = {
    GridRecord: _Kind("grid", grids, _grid_row, _grid, _check_grid),
    SiteRecord: _Kind("site", sites, _site_row, _site, _check_site),
    Sensor: _Kind("sensor", sensors, _sensor_row, _sensor, _check_sensor),
    Hj212Profile: _Kind("hj212 profile", hj212_profiles, _profile_row, _profile, _check_profile),
}


def list_entries(conn: Connection, kind: type[Entry]) -> list[Entry]:
    """Every entry of one kind, by id."""
    k = _KINDS[kind]
    return [k.decode(r) for r in conn.execute(select(k.table).order_by(k.table.c.id))]


def get_entry(conn: Connection, kind: type[Entry], entry_id: str) -> Entry:
    """One entry by id; raises NotFound."""
    k = _KINDS[kind]
    row = conn.execute(select(k.table).where(k.table.c.id == entry_id)).first()
    if row is None:
        raise NotFound(f"{k.what} {entry_id!r} does not exist")
    entry: Entry = k.decode(row)
    return entry


def insert_entry(conn: Connection, entry: Entry) -> None:
    """Add a new entry; raises Duplicate or Invalid. The caller bumps the version."""
    k = _KINDS[type(entry)]
    if _exists(conn, k.table, entry.id):
        raise Duplicate(f"{k.what} {entry.id!r} already exists")
    k.check(conn, entry)
    conn.execute(insert(k.table).values(k.encode(entry)))


def patch_entry(
    conn: Connection, kind: type[Entry], entry_id: str, changes: Mapping[str, Any]
) -> tuple[Entry, bool]:
    """Change some fields of an entry (never its id); the flag says whether anything changed."""
    current = get_entry(conn, kind, entry_id)
    what = _KINDS[kind].what
    if changes.get("id", entry_id) != entry_id:
        raise Invalid(f"{what} {entry_id!r}: an id cannot be changed")
    try:
        changed = dataclasses.replace(current, **changes)
    except TypeError as err:
        raise Invalid(f"{what} {entry_id!r}: {err}") from err
    return changed, _write_if_changed(conn, current, changed)


def upsert_entry(conn: Connection, entry: Entry) -> bool:
    """Insert or overwrite an entry; True if the store changed."""
    k = _KINDS[type(entry)]
    row = conn.execute(select(k.table).where(k.table.c.id == entry.id)).first()
    if row is None:
        insert_entry(conn, entry)
        return True
    return _write_if_changed(conn, k.decode(row), entry)


def release_mns(conn: Connection, wanted: Iterable[Sensor]) -> None:
    """Free the MNs these sensors will hold from the sensors of this same list that hold
    them now (a logger moved from one kitchen to the next in one community file)."""
    moving = {s.hj212.mn: s.id for s in wanted if s.hj212 is not None}
    listed = {s.id for s in wanted}
    if not moving:
        return
    rows = conn.execute(
        select(sensors.c.id, sensors.c.hj212_mn).where(sensors.c.hj212_mn.in_(moving))
    )
    for sensor_id, mn in rows.all():
        if moving[mn] != sensor_id and sensor_id in listed:
            conn.execute(
                update(sensors)
                .where(sensors.c.id == sensor_id)
                .values(hj212_mn=None, hj212_pw=None, hj212_profile=None)
            )


def _write_if_changed(conn: Connection, current: Entry, changed: Entry) -> bool:
    if changed == current:
        return False
    k = _KINDS[type(changed)]
    k.check(conn, changed)
    conn.execute(update(k.table).where(k.table.c.id == changed.id).values(k.encode(changed)))
    return True


# -- communities (CONTRACT §9) -----------------------------------------------------


def list_communities(conn: Connection) -> list[CommunityRecord]:
    """Every community, by id."""
    rows = conn.execute(select(communities).order_by(communities.c.id))
    return [CommunityRecord(r.id, r.name, r.name_en) for r in rows]


def upsert_community(conn: Connection, community: CommunityRecord) -> bool:
    """Insert or overwrite a community; True if the store changed."""
    if not re.fullmatch(COMMUNITY_ID_PATTERN, community.id):
        raise Invalid(f"community id {community.id!r} does not match {COMMUNITY_ID_PATTERN}")
    row = conn.execute(select(communities).where(communities.c.id == community.id)).first()
    values = {"id": community.id, "name": community.name, "name_en": community.name_en}
    if row is None:
        conn.execute(insert(communities).values(values))
        return True
    if CommunityRecord(row.id, row.name, row.name_en) == community:
        return False
    conn.execute(update(communities).where(communities.c.id == community.id).values(values))
    return True


def prune_communities(conn: Connection, keep: Iterable[str]) -> None:
    """Forget the communities no file names any more and no grid belongs to (a file's id
    changed: its grids moved with it)."""
    conn.execute(
        delete(communities).where(
            communities.c.id.not_in(list(keep)),
            communities.c.id.not_in(select(grids.c.community).distinct()),
        )
    )


def adopt_grids(conn: Connection, community_id: str) -> int:
    """Give every grid without a community (kept from before communities) this one."""
    done = conn.execute(update(grids).where(grids.c.community == "").values(community=community_id))
    return int(done.rowcount or 0)


def community_of_site(conn: Connection, site_id: str) -> str:
    """The community of a site's grid; raises NotFound for an unknown site."""
    row = conn.execute(
        select(grids.c.community)
        .select_from(sites.join(grids, sites.c.grid == grids.c.id))
        .where(sites.c.id == site_id)
    ).first()
    if row is None:
        raise NotFound(f"site {site_id!r} does not exist")
    return str(row.community)


def grid_communities(conn: Connection) -> dict[str, str]:
    """Every grid's community, by grid id."""
    return {r.id: r.community for r in conn.execute(select(grids.c.id, grids.c.community))}


# -- the registry version ----------------------------------------------------------


def ensure_version(conn: Connection) -> None:
    """Create the `registry_version` row at 0 if it is missing."""
    if read_version(conn) is None:
        conn.execute(insert(meta).values(key=REGISTRY_VERSION, value=0))


def read_version(conn: Connection) -> int | None:
    """The current registry version, or None before the schema was initialised."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == REGISTRY_VERSION)).scalar()
    return None if value is None else int(value)


def bump_version(conn: Connection) -> None:
    """Raise the registry version by one, in the caller's transaction."""
    conn.execute(update(meta).where(meta.c.key == REGISTRY_VERSION).values(value=meta.c.value + 1))
