"""API tokens: only a hash is stored; a token resolves to a role and its scope (CONTRACT §5)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection, insert, select

from linli.store.errors import Invalid
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
) -> tuple[str, Grant]:
    """Issue a new token; returns it (shown once, never stored) and its grant."""
    grant = Grant(role, frozenset(grid_ids), site, note, now_ms)
    _check_scope(conn, grant)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(tokens).values(
            token_hash=hash_token(token),
            role=role.value,
            grids=sorted(grant.grids),
            site=site,
            note=note,
            created_ms=now_ms,
        )
    )
    return token, grant


def resolve_token(conn: Connection, token: str) -> Grant | None:
    """The grant of a token, or None if it is not one linli issued."""
    row = conn.execute(select(tokens).where(tokens.c.token_hash == hash_token(token))).first()
    if row is None:
        return None
    m = row._mapping
    return Grant(Role(m["role"]), frozenset(m["grids"]), m["site"], m["note"], int(m["created_ms"]))


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
            raise Invalid(f"role grid_worker: grid {missing[0]!r} does not exist")
    elif role is Role.MERCHANT:
        if grant.site is None or grant.grids:
            raise Invalid("role merchant: needs exactly one site and no grids")
        found = conn.execute(select(sites.c.id).where(sites.c.id == grant.site)).first()
        if found is None:
            raise Invalid(f"role merchant: site {grant.site!r} does not exist")
