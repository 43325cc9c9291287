"""`/api/v1/grids`: list, read, create (admin), change (admin)."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api.errors import CREATING
from linli.api.schemas import GridCreate, GridOut, GridPatch
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep

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
    return GridOut.of(services.db.create_grid(body.record()))


@router.patch("/{grid_id}")
def patch_grid(grid_id: str, body: GridPatch, scope: ScopeDep, services: ServicesDep) -> GridOut:
    """Change a grid's name or workers."""
    scope.grid(grid_id)
    scope.require_admin()
    return GridOut.of(services.db.patch_grid(grid_id, body.changes()))
