"""Tokens: issued once, stored as a hash, resolved to a role and scope."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from linli.store import Database, Grant, Invalid, Role


@pytest.mark.parametrize(
    ("role", "scope", "grant"),
    [
        pytest.param(Role.ADMIN, {}, Grant(Role.ADMIN, note="n", created_ms=7), id="admin"),
        pytest.param(Role.STAFF, {}, Grant(Role.STAFF, note="n", created_ms=7), id="staff"),
        pytest.param(
            Role.GRID_WORKER,
            {"grids": ["g1"]},
            Grant(Role.GRID_WORKER, frozenset({"g1"}), None, "n", 7),
            id="grid worker of g1",
        ),
        pytest.param(
            Role.MERCHANT,
            {"site": "rest-1"},
            Grant(Role.MERCHANT, frozenset(), "rest-1", "n", 7),
            id="merchant of rest-1",
        ),
    ],
)
def test_a_token_resolves_to_its_grant(
    filled: Database, role: Role, scope: dict[str, Any], grant: Grant
) -> None:
    token, issued = filled.create_token(role, note="n", now_ms=7, **scope)
    assert token.startswith("linli_") and len(token) == 49
    assert issued == grant
    assert filled.resolve_token(token) == grant


def test_only_the_hash_is_stored(filled: Database, tmp_path: Path) -> None:
    token, _ = filled.create_token(Role.STAFF, now_ms=1)
    with sqlite3.connect(tmp_path / "var" / "linli.db") as conn:
        rows = conn.execute("SELECT * FROM tokens").fetchall()
    assert len(rows) == 1
    assert token not in repr(rows)
    assert hashlib.sha256(token.encode()).hexdigest() in rows[0]


def test_an_unknown_token_resolves_to_nothing(filled: Database) -> None:
    assert filled.resolve_token("linli_nope") is None


@pytest.mark.parametrize(
    ("role", "scope", "message"),
    [
        pytest.param(
            Role.STAFF,
            {"grids": ["g1"]},
            "role staff: sees the whole community and takes no grids or site",
            id="staff with a grid → Invalid",
        ),
        pytest.param(
            Role.GRID_WORKER,
            {},
            "role grid_worker: needs one or more grids and no site",
            id="grid worker without grids → Invalid",
        ),
        pytest.param(
            Role.GRID_WORKER,
            {"grids": ["g1", "g9"]},
            "role grid_worker: grid 'g9' does not exist",
            id="grid worker of an unknown grid → Invalid",
        ),
        pytest.param(
            Role.MERCHANT,
            {},
            "role merchant: needs exactly one site and no grids",
            id="merchant without a site → Invalid",
        ),
        pytest.param(
            Role.MERCHANT,
            {"site": "nowhere"},
            "role merchant: site 'nowhere' does not exist",
            id="merchant of an unknown site → Invalid",
        ),
    ],
)
def test_a_scope_must_fit_the_role(
    filled: Database, role: Role, scope: dict[str, Any], message: str
) -> None:
    with pytest.raises(Invalid) as caught:
        filled.create_token(role, now_ms=1, **scope)
    assert str(caught.value) == message
