"""`/api/v1/sites`: list, read, create (admin), change (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api.errors import CREATING, REFERRING
from linli.api.schemas import SiteCreate, SiteOut, SitePatch
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep

router = APIRouter(prefix="/sites", tags=["registry"])


@router.get("")
def list_sites(scope: ScopeDep) -> list[SiteOut]:
    """The sites the token may see."""
    return [SiteOut.of(s, scope.community_of_grid(s.grid)) for s in scope.sites()]


@router.get("/{site_id}")
def get_site(site_id: str, scope: ScopeDep) -> SiteOut:
    """One site."""
    site = scope.site(site_id)
    return SiteOut.of(site, scope.community_of_grid(site.grid))


@router.post("", status_code=status.HTTP_201_CREATED, responses=CREATING)
def create_site(body: SiteCreate, scope: ScopeDep, services: ServicesDep) -> SiteOut:
    """Add a site to an existing grid."""
    scope.require_admin()
    site = services.db.create_site(body.record())
    return SiteOut.of(site, scope.community_of_grid(site.grid))


@router.patch("/{site_id}", responses=REFERRING)
def patch_site(site_id: str, body: SitePatch, scope: ScopeDep, services: ServicesDep) -> SiteOut:
    """Change some fields of a site."""
    scope.site(site_id)
    scope.require_admin()
    site = services.db.patch_site(site_id, body.changes())
    return SiteOut.of(site, scope.community_of_grid(site.grid))
