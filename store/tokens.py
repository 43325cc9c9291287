"""API tokens: only a hash is stored; a token resolves to a role and its scope (CONTRACT §5)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection, delete, insert, select

from linli.store.errors import Dangling, Invalid
from linli.store.tables import grids, sites, tokens

TOKEN_PREFIX: Final = "linli_"


class Role(StrEnum):
    """Who a token speaks for: the whole community, or one scope of it."""

    ADMIN = "admin"
    STAFF = "staff"
    GRID_WORKER = "grid_worker"
    MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token allows: a role, and for grid workers and merchants their scope."""

    role: Role
    grids: frozenset[str] = frozenset()
    site: str | None = None
    note: str = ""
    created_ms: int = 0
    expires_ms: int | None = None  # refused from then on
    id: int | None = field(default=None, compare=False)  # None: LINLI_ADMIN_TOKEN


def hash_token(token: str) -> str:
    """The stored form of a token: tokens are 256 random bits, so sha256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection,
    role: Role,
    *,
    grid_ids: Iterable[str] = (),
    site: str | None = None,
    note: str = "",
    now_ms: int,
    expires_ms: int | None = None,
) -> tuple[str, Grant]:
    """Issue a new token; returns it (shown once, never stored) and its grant."""
    grant = Grant(role, frozenset(grid_ids), site, note, now_ms, expires_ms)
    _check_scope(conn, grant)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        insert(tokens)
        .values(
            token_hash=hash_token(token),
            role=role.value,
            grids=sorted(grant.grids),
            site=site,
            note=note,
            created_ms=now_ms,
            expires_ms=expires_ms,
        )
        .returning(tokens.c.id)
    ).scalar_one()
    return token, replace(grant, id=int(token_id))


def resolve_token(conn: Connection, token: str, now_ms: int) -> Grant | None:
    """The grant of a token, or None if linli did not issue it or it has expired."""
    row = conn.execute(select(tokens).where(tokens.c.token_hash == hash_token(token))).first()
    if row is None:
        return None
    m = row._mapping
    expires_ms = m["expires_ms"]
    if expires_ms is not None and now_ms >= expires_ms:
        return None
    return Grant(
        Role(m["role"]),
        frozenset(m["grids"]),
        m["site"],
        m["note"],
        int(m["created_ms"]),
        expires_ms,
        int(m["id"]),
    )


def token_alive(conn: Connection, token_id: int, now_ms: int) -> bool:
    """Whether the token with this id exists and has not expired."""
    row = conn.execute(select(tokens.c.expires_ms).where(tokens.c.id == token_id)).first()
    return row is not None and (row.expires_ms is None or now_ms < row.expires_ms)


def revoke_token(conn: Connection, token_id: int) -> bool:
    """Delete an issued token; whether there was one with that id."""
    return bool(conn.execute(delete(tokens).where(tokens.c.id == token_id)).rowcount)


def _check_scope(conn: Connection, grant: Grant) -> None:
    role = grant.role
    if role in (Role.ADMIN, Role.STAFF):
        if grant.grids or grant.site is not None:
            raise Invalid(f"role {role}: sees the whole community and takes no grids or site")
    elif role is Role.GRID_WORKER:
        if not grant.grids or grant.site is not None:
            raise Invalid("role grid_worker: needs one or more grids and no site")
        known = set(conn.execute(select(grids.c.id).where(grids.c.id.in_(grant.grids))).scalars())
        missing = sorted(grant.grids - known)
        if missing:
            raise Dangling(f"role grid_worker: grid {missing[0]!r} does not exist")
    elif role is Role.MERCHANT:
        if grant.site is None or grant.grids:
            raise Invalid("role merchant: needs exactly one site and no grids")
        found = conn.execute(select(sites.c.id).where(sites.c.id == grant.site)).first()
        if found is None:
            raise Dangling(f"role merchant: site {grant.site!r} does not exist")
