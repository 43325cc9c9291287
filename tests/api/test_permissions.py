"""CONTRACT §5's permission table, row by row, through the API (api/permissions.py).

A merchant must not `close` its own case, and so end the governance of its own
nuisance. Each row: the case is first brought (by an admin) to a state where the action
is legal, so that what is refused is the role, not the move.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from linli.api.permissions import CASE_ACTIONS
from linli.rules.case import HUMAN_ACTIONS
from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.store import Database, Role
from tests.api.conftest import Headers
from tests.api.test_cases import fume
from tests.rules.conftest import local_ms

# the admin's moves bringing a new (open) case to where the action is legal
BEFORE = {
    "comment": [],
    "acknowledge": [],
    "start": ["acknowledge"],
    "resolve": ["start"],
    "close": ["start", "resolve"],
    "reopen": ["start", "resolve"],
}
# CONTRACT §5: (merchant, grid_worker, staff, admin)
TABLE = {
    "comment": (200, 200, 200, 200),
    "acknowledge": (200, 200, 200, 200),
    "start": (200, 200, 200, 200),
    "resolve": (200, 200, 200, 200),
    "close": (403, 200, 200, 200),
    "reopen": (403, 200, 200, 200),
}
ROLES = ("merchant", "grid_worker", "staff", "admin")
ROWS = [
    pytest.param(action, role, TABLE[action][i], id=f"{role} {action} → {TABLE[action][i]}")
    for action in TABLE
    for i, role in enumerate(ROLES)
]


def test_the_table_covers_every_action_people_take() -> None:
    assert set(CASE_ACTIONS) == HUMAN_ACTIONS == set(TABLE)


@pytest.mark.parametrize(("action", "role", "expected"), ROWS)
def test_who_may_do_what_to_a_case_in_scope(
    client: TestClient,
    tokens: dict[str, Headers],
    registry: Database,
    action: str,
    role: str,
    expected: int,
) -> None:
    engine = Engine(registry, RulePolicy())
    for r in fume(10, local_ms("12:00")):
        engine.process([r], r.ts_ms)
    (case,) = client.get("/api/v1/cases", headers=tokens["admin"]).json()["items"]
    url = f"/api/v1/cases/{case['id']}/actions"
    for move in BEFORE[action]:
        assert client.post(url, json={"action": move}, headers=tokens["admin"]).status_code == 200
    before = client.get(f"/api/v1/cases/{case['id']}", headers=tokens["admin"]).json()
    response = client.post(url, json={"action": action, "note": "n"}, headers=tokens[role])
    assert response.status_code == expected, response.text
    after = client.get(f"/api/v1/cases/{case['id']}", headers=tokens["admin"]).json()
    if expected == 403:
        assert response.json()["detail"] == (
            f"role {role} may not {action} a case; admin, grid_worker, staff may (CONTRACT §5)"
        )
        assert after == before  # nothing changed, no timeline entry
    else:
        assert after["timeline"][-1]["action"] == action


def test_outside_the_scope_it_is_404_not_403(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    engine = Engine(registry, RulePolicy())
    for r in fume(10, local_ms("12:00")):
        engine.process([r], r.ts_ms)
    (case,) = client.get("/api/v1/cases", headers=tokens["admin"]).json()["items"]
    token, _ = registry.create_token(Role.MERCHANT, site="ktv-1")
    response = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "close"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
