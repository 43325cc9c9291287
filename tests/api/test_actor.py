"""Who acted, as the timeline says it: one function (api/acting.py) for the API's actions,
the board's forms and a complaint's intake and follow-up."""

from __future__ import annotations

import pytest

from linli.api.acting import actor
from linli.api.board.sessions import Session
from linli.store import Grant, Role


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        pytest.param(Grant(Role.MERCHANT, site="rest-1", note="周老板"), "merchant:rest-1", id="a merchant → its site, not the token's note"),
        pytest.param(Grant(Role.GRID_WORKER, frozenset({"g1"}), note="王丽"), "王丽", id="a named grid worker → the name"),
        pytest.param(Grant(Role.GRID_WORKER, frozenset({"g1"})), "grid_worker", id="an unnamed token → its role"),
        pytest.param(Grant(Role.STAFF, note="社区办 张"), "社区办 张", id="named staff → the name"),
        pytest.param(Grant(Role.ADMIN), "admin", id="LINLI_ADMIN_TOKEN → admin"),
    ],
)  # fmt: skip
def test_who_acted(grant, expected):
    assert actor(grant) == expected
    assert Session(grant, "sid", 0, "csrf").actor == expected  # the board says the same
