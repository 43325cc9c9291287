"""`/api/v1/tokens` (admin): issue a token for a role and its scope, or revoke one."""

from __future__ import annotations

import time

from fastapi import APIRouter, Response, status

from linli.api.auth import GrantDep, require_admin
from linli.api.errors import REFERRING
from linli.api.params import RowId
from linli.api.schemas import TokenCreate, TokenOut
from linli.api.services import ServicesDep
from linli.store import Role

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=REFERRING)
def create_token(body: TokenCreate, who: GrantDep, services: ServicesDep) -> TokenOut:
    """Issue a token; only its hash is kept, so the answer is the one chance to read it."""
    require_admin(who)
    now_ms = time.time_ns() // 1_000_000
    expires_ms = None if body.expires_in_s is None else now_ms + body.expires_in_s * 1000
    grids, site = body.scope()
    token, grant = services.db.create_token(
        Role(body.role),
        grids=grids,
        site=site,
        communities=getattr(body, "communities", None),
        note=body.note,
        now_ms=now_ms,
        expires_ms=expires_ms,
    )
    return TokenOut.of(token, grant)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: RowId, who: GrantDep, services: ServicesDep) -> Response:
    """Revoke an issued token: refused from the next request on."""
    require_admin(who)
    services.db.revoke_token(token_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
