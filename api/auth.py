"""Bearer tokens (CONTRACT §5): `LINLI_ADMIN_TOKEN` is admin; others are issued and hashed."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from linli.api.services import ServicesDep
from linli.store import Grant, Role

_bearer = HTTPBearer(
    auto_error=False,
    description="LINLI_ADMIN_TOKEN, or a token issued by POST /api/v1/tokens",
)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def grant(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Grant:
    """The role and scope of the request's bearer token; 401 without a valid one."""
    if credentials is None:
        raise _unauthorized("a bearer token is required")
    token = credentials.credentials
    admin = services.config.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Grant(Role.ADMIN, note="LINLI_ADMIN_TOKEN")
    found = services.db.resolve_token(token)
    if found is None:
        raise _unauthorized("the bearer token is not valid")
    return found


GrantDep = Annotated[Grant, Depends(grant)]


def require_admin(who: Grant) -> None:
    """403 unless the token is an admin's."""
    if who.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role} may not do this")
