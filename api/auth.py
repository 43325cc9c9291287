"""Bearer tokens (CONTRACT §5): `LINLI_ADMIN_TOKEN` is admin; others are issued and hashed.

The token is checked once per request, before its body is read (api/guard.py); the
`grant` dependency hands the routers what the guard found.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from linli.api.services import Services, ServicesDep
from linli.store import Grant, Role
from linli.store.tokens import stamp_of

_bearer = HTTPBearer(
    auto_error=False,
    description="LINLI_ADMIN_TOKEN, or a token issued by POST /api/v1/tokens",
)


class Unauthorized(Exception):
    """No bearer token, or one linli does not know."""


def authenticate(services: Services, authorization: str | None) -> Grant:
    """The role and scope of an `Authorization: Bearer …` header; Unauthorized otherwise."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("a bearer token is required")
    admin = services.config.admin_token
    if admin and hmac.compare_digest(token.encode(), admin.encode()):
        return Grant(Role.ADMIN, note="LINLI_ADMIN_TOKEN", stamp=stamp_of(admin))
    found = services.db.resolve_token(token)
    if found is None:
        raise Unauthorized("the bearer token is not valid")
    return found


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


def grant(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Grant:
    """The role and scope of the request's bearer token; 401 without a valid one."""
    found = getattr(request.state, "grant", None)
    if isinstance(found, Grant):
        return found  # the guard checked it before the body was read
    header = None if credentials is None else f"Bearer {credentials.credentials}"
    try:
        return authenticate(services, header)
    except Unauthorized as err:
        raise _unauthorized(str(err)) from err


GrantDep = Annotated[Grant, Depends(grant)]


def require_admin(who: Grant) -> None:
    """403 unless the token is an admin's."""
    if who.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {who.role} may not do this")
