"""API tokens: only a hash is stored; a token resolves to a role and its scope (CONTRACT §5).

A revoked token's row is kept, marked `revoked_ms`, and its id is never given again (SQLite
AUTOINCREMENT, a PostgreSQL sequence): a board session names its token by id *and* by a
prefix of its hash (`stamp`), so it can never come alive again under another token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from sqlalchemy import Connection, insert, select, update

from linli.store.errors import Dangling, Invalid
from linli.store.tables import communities as communities_table
from linli.store.tables import grids, sites, tokens

TOKEN_PREFIX: Final = "linli_"
STAMP_CHARS: Final = 16  # of the sha256 hex: what a board session keeps of its token


class Role(StrEnum):
    """Who a token speaks for: the whole community, or one scope of it."""

    ADMIN = "admin"
    STAFF = "staff"
    GRID_WORKER = "grid_worker"
    MERCHANT = "merchant"


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token allows: a role, and for grid workers and merchants their scope; a
    staff token may be limited to some communities (CONTRACT §9; None: every one)."""

    role: Role
    grids: frozenset[str] = frozenset()
    site: str | None = None
    note: str = ""
    created_ms: int = 0
    expires_ms: int | None = None  # refused from then on
    id: int | None = field(default=None, compare=False)  # None: LINLI_ADMIN_TOKEN
    stamp: str = field(default="", compare=False)  # the hash's first STAMP_CHARS
    communities: frozenset[str] | None = None  # staff: these communities only; None: all


def hash_token(token: str) -> str:
    """The stored form of a token: tokens are 256 random bits, so sha256 is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def stamp_of(token: str) -> str:
    """What a board session keeps to know its token again: a prefix of the token's hash."""
    return hash_token(token)[:STAMP_CHARS]


def create_token(
    conn: Connection,
    role: Role,
    *,
    grid_ids: Iterable[str] = (),
    site: str | None = None,
    communities: Iterable[str] | None = None,
    note: str = "",
    now_ms: int,
    expires_ms: int | None = None,
) -> tuple[str, Grant]:
    """Issue a new token; returns it (shown once, never stored) and its grant."""
    grant = Grant(
        role,
        frozenset(grid_ids),
        site,
        note,
        now_ms,
        expires_ms,
        communities=None if communities is None else frozenset(communities),
    )
    _check_scope(conn, grant)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    hashed = hash_token(token)
    token_id = conn.execute(
        insert(tokens)
        .values(
            token_hash=hashed,
            role=role.value,
            grids=sorted(grant.grids),
            site=site,
            communities=None if grant.communities is None else sorted(grant.communities),
            note=note,
            created_ms=now_ms,
            expires_ms=expires_ms,
        )
        .returning(tokens.c.id)
    ).scalar_one()
    return token, replace(grant, id=int(token_id), stamp=hashed[:STAMP_CHARS])


def resolve_token(conn: Connection, token: str, now_ms: int) -> Grant | None:
    """The grant of a token, or None if linli did not issue it, it was revoked or expired."""
    hashed = hash_token(token)
    row = conn.execute(select(tokens).where(tokens.c.token_hash == hashed)).first()
    if row is None or row.revoked_ms is not None:
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
        hashed[:STAMP_CHARS],
        None if m["communities"] is None else frozenset(m["communities"]),
    )


def token_alive(conn: Connection, token_id: int, stamp: str, now_ms: int) -> bool:
    """Whether the token with this id and hash stamp is neither revoked nor expired."""
    row = conn.execute(
        select(tokens.c.token_hash, tokens.c.expires_ms, tokens.c.revoked_ms).where(
            tokens.c.id == token_id
        )
    ).first()
    return (
        row is not None
        and len(stamp) == STAMP_CHARS
        and hmac.compare_digest(row.token_hash[:STAMP_CHARS], stamp)
        and row.revoked_ms is None
        and (row.expires_ms is None or now_ms < row.expires_ms)
    )


def revoke_token(conn: Connection, token_id: int, now_ms: int) -> bool:
    """Mark an issued token revoked (its row, and so its id, stays taken); whether there was
    one with that id not revoked yet."""
    done = conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, tokens.c.revoked_ms.is_(None))
        .values(revoked_ms=now_ms)
    )
    return bool(done.rowcount)


def revoked_since(
    conn: Connection, role: Role, site: str | None, grid_ids: Iterable[str], since_ms: int
) -> bool:
    """Whether a token whose reader a board link of this role and scope may have been
    sent to was revoked at or after `since_ms` (the link's sending): a staff link's
    readers hold staff or admin tokens, a grid worker's a token of one of its grids, a
    merchant's its site's."""
    roles = [Role.STAFF.value, Role.ADMIN.value] if role in (Role.STAFF, Role.ADMIN) else [role]
    rows = conn.execute(
        select(tokens.c.grids, tokens.c.site).where(
            tokens.c.revoked_ms >= since_ms, tokens.c.role.in_(roles)
        )
    ).all()
    wanted = set(grid_ids)
    for row in rows:
        if role is Role.MERCHANT and row.site == site:
            return True
        if role is Role.GRID_WORKER and wanted & set(row.grids or ()):
            return True
        if role in (Role.STAFF, Role.ADMIN):
            return True
    return False


def _check_scope(conn: Connection, grant: Grant) -> None:
    role = grant.role
    if grant.communities is not None:
        if role is not Role.STAFF:
            raise Invalid(f"role {role}: takes no communities (only staff is limited to some)")
        if not grant.communities:
            raise Invalid("role staff: communities, when given, names one or more")
        known = set(
            conn.execute(
                select(communities_table.c.id).where(communities_table.c.id.in_(grant.communities))
            ).scalars()
        )
        missing = sorted(grant.communities - known)
        if missing:
            raise Invalid(f"role staff: community {missing[0]!r} does not exist")
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
