"""Role scoping, done once: the registry as one token sees it (CONTRACT §5 and CONTRACT §9).

Admin and the street's staff see every community; a community's staff (a staff token
with `communities`) the grids of those communities and their sites and sensors; a grid
worker their grids and the sites and sensors in them; a merchant their one site and its
sensors. Anything outside the scope is reported exactly like an id that does not exist:
404, never 403. Every surface (API, Open311, the board) asks this class, and only it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from linli.api.auth import GrantDep, require_admin
from linli.api.services import ServicesDep
from linli.rules.registry import Sensor, Site
from linli.store import Database, Grant, GridRecord, NotFound, Role, SiteRecord


class Scope:
    """Reads of grids, sites and sensors limited to what one token may see."""

    __slots__ = ("_db", "_grid_communities", "_site_grids", "grant")

    def __init__(self, grant: Grant, db: Database) -> None:
        self.grant = grant
        self._db = db
        self._grid_communities: dict[str, str] | None = None  # read once, when needed
        self._site_grids: dict[str, str] | None = None

    @property
    def whole(self) -> bool:
        """Whether the token sees everything: every community of the street."""
        return self.grant.role is Role.ADMIN or (
            self.grant.role is Role.STAFF and self.grant.communities is None
        )

    @property
    def communities(self) -> frozenset[str] | None:
        """The ids of the communities the token reaches; None: every one (the street)."""
        if self.whole:
            return None
        if self.grant.role is Role.STAFF:
            return self.grant.communities or frozenset()
        if self.grant.role is Role.GRID_WORKER:
            of_grid = self._communities_of_grids()
            return frozenset(of_grid[g] for g in self.grant.grids if g in of_grid)
        if self.grant.site is None:
            return frozenset()
        try:
            return frozenset({self._db.community_of_site(self.grant.site)})
        except NotFound:
            return frozenset()

    def sees_community(self, community_id: str) -> bool:
        """Whether the token reaches (some of) this community."""
        communities = self.communities
        return communities is None or community_id in communities

    def community_of_grid(self, grid_id: str) -> str:
        """The community a grid belongs to ("" for none or an unknown grid)."""
        return self._communities_of_grids().get(grid_id, "")

    def community_of_site(self, site_id: str) -> str:
        """The community of a site's grid ("" for none or an unknown site)."""
        if self._site_grids is None:
            self._site_grids = {s.id: s.grid for s in self._db.sites()}
        return self.community_of_grid(self._site_grids.get(site_id, ""))

    def require_admin(self) -> None:
        """403 unless the token is an admin's; call after the entry was found in scope."""
        require_admin(self.grant)

    def grids(self) -> list[GridRecord]:
        """The grids in scope."""
        return [g for g in self._db.grids() if self._sees_grid(g.id, g.community)]

    def grid(self, grid_id: str) -> GridRecord:
        """One grid in scope; NotFound otherwise."""
        if not self._sees_grid(grid_id):
            raise NotFound(f"grid {grid_id!r} does not exist")
        return self._db.grid(grid_id)

    def sites(self) -> list[SiteRecord]:
        """The sites in scope."""
        return [s for s in self._db.sites() if self._sees_site(s)]

    def site(self, site_id: str) -> SiteRecord:
        """One site in scope; NotFound otherwise."""
        found = self._db.site(site_id)
        if not self._sees_site(found):
            raise NotFound(f"site {site_id!r} does not exist")
        return found

    def sensors(self) -> list[Sensor]:
        """The sensors in scope."""
        if self.whole:
            return self._db.sensors()
        sites = {s.id for s in self.sites()}
        return [s for s in self._db.sensors() if s.site in sites]

    def sensor(self, sensor_id: str) -> Sensor:
        """One sensor in scope; NotFound otherwise."""
        found = self._db.sensor(sensor_id)
        if not self.whole:
            try:
                self.site(found.site)
            except NotFound:
                raise NotFound(f"sensor {sensor_id!r} does not exist") from None
        return found

    def sensor_ids(self) -> set[str] | None:
        """The ids of the sensors in scope; None when the token sees them all."""
        return None if self.whole else {s.id for s in self.sensors()}

    def _sees_grid(self, grid_id: str, community: str | None = None) -> bool:
        if self.whole:
            return True
        if self.grant.role is Role.STAFF:
            if community is None:
                community = self._communities_of_grids().get(grid_id)
            return community is not None and community in (self.grant.communities or ())
        return self.grant.role is Role.GRID_WORKER and grid_id in self.grant.grids

    def _communities_of_grids(self) -> dict[str, str]:
        if self._grid_communities is None:
            self._grid_communities = self._db.grid_communities()
        return self._grid_communities

    def _sees_site(self, site: Site) -> bool:
        if self.grant.role is Role.MERCHANT:
            return site.id == self.grant.site
        return self._sees_grid(site.grid)


def scope(grant: GrantDep, services: ServicesDep) -> Scope:
    """The request's scope, from its bearer token."""
    return Scope(grant, services.db)


ScopeDep = Annotated[Scope, Depends(scope)]
