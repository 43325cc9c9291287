"""`/api/v1/grids`: list, read, create (admin), change (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api.errors import CREATING
from linli.api.schemas import GridCreate, GridOut, GridPatch
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.store import Invalid

router = APIRouter(prefix="/grids", tags=["registry"])


@router.get("")
def list_grids(scope: ScopeDep) -> list[GridOut]:
    """The grids the token may see."""
    return [GridOut.of(g) for g in scope.grids()]


@router.get("/{grid_id}")
def get_grid(grid_id: str, scope: ScopeDep) -> GridOut:
    """One grid."""
    return GridOut.of(scope.grid(grid_id))


@router.post("", status_code=status.HTTP_201_CREATED, responses=CREATING)
def create_grid(body: GridCreate, scope: ScopeDep, services: ServicesDep) -> GridOut:
    """Add a grid."""
    scope.require_admin()
    return GridOut.of(services.db.create_grid(body.record(_community(body, services))))


@router.patch("/{grid_id}")
def patch_grid(grid_id: str, body: GridPatch, scope: ScopeDep, services: ServicesDep) -> GridOut:
    """Change a grid's name or workers."""
    scope.grid(grid_id)
    scope.require_admin()
    return GridOut.of(services.db.patch_grid(grid_id, body.changes()))


def _community(body: GridCreate, services: ServicesDep) -> str:
    """The new grid's community: as sent, or the street's one (CONTRACT §9)."""
    known = [c.id for c in services.db.communities()]
    if body.community is not None:
        if body.community not in known:
            raise Invalid(f"community {body.community!r} does not exist")
        return body.community
    if len(known) > 1:
        raise Invalid(f"community: required, one of {', '.join(known)}")
    return known[0] if known else ""
