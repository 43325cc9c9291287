"""`POST /api/v1/tokens` (admin): issue a token for a role and its scope."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api.auth import GrantDep, require_admin
from linli.api.schemas import TokenCreate, TokenOut
from linli.api.services import ServicesDep

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, who: GrantDep, services: ServicesDep) -> TokenOut:
    """Issue a token; only its hash is kept, so the answer is the one chance to read it."""
    require_admin(who)
    token, grant = services.db.create_token(
        body.role, grids=body.grids, site=body.site, note=body.note
    )
    return TokenOut.of(token, grant)
