"""Who may do what to a case in their scope (CONTRACT §5), in one table, checked in one place.

Scope is decided first (api/scope.py: outside it, 404); inside it, an action the role
may not take is 403. A merchant may acknowledge, start, resolve and comment on its own
site's cases; closing and reopening — ending or resuming the governance of a nuisance
after verification — belong to the grid worker, staff and admins (so that a merchant
cannot end the governance of its own nuisance).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from fastapi import HTTPException, status

from linli.rules.case import Action
from linli.store import Grant, Role

_EVERYONE: Final = frozenset(Role)
_GOVERNING: Final = frozenset({Role.GRID_WORKER, Role.STAFF, Role.ADMIN})

CASE_ACTIONS: Final[Mapping[Action, frozenset[Role]]] = {
    Action.COMMENT: _EVERYONE,
    Action.ACKNOWLEDGE: _EVERYONE,
    Action.START: _EVERYONE,
    Action.RESOLVE: _EVERYONE,
    Action.CLOSE: _GOVERNING,
    Action.REOPEN: _GOVERNING,
}


def may_act(role: Role, action: Action) -> bool:
    """Whether `role` may take `action` on a case in its scope."""
    return role in CASE_ACTIONS.get(action, frozenset())


def require_action(who: Grant, action: Action) -> None:
    """403 unless the token's role may take `action` (call once the case is in scope)."""
    if not may_act(who.role, action):
        allowed = ", ".join(sorted(r.value for r in CASE_ACTIONS.get(action, ())))
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"role {who.role} may not {action} a case; {allowed} may (CONTRACT §5)",
        )
