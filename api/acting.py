"""A person's action on a case, in the caller's transaction: moved, recorded and told.

The API's `POST /cases/{id}/actions`, the board's forms and a complaint's follow-up call
all act on a case this one way, so a change is never recorded without being told.
"""

from __future__ import annotations

from collections.abc import Sequence

from linli.api.services import Services
from linli.rules.case import Action, Case, IllegalTransition, TimelineEntry, apply
from linli.rules.engine.decide import CaseChange
from linli.rules.ports import CaseTx
from linli.store import Grant, Role, StateConflict


def actor(grant: Grant) -> str:
    """Who the timeline says acted: a merchant as its site (`merchant:rest-1`), anyone else
    by their token's note (a person's name) or else their role."""
    if grant.role is Role.MERCHANT:
        return f"merchant:{grant.site}"
    return grant.note or grant.role.value


def tell(services: Services, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
    """Every teller, in `tx`: told, or not changed at all (the outbox)."""
    for teller in services.tellers:
        teller.tell(tx, changes)


def act(
    services: Services, tx: CaseTx, case: Case, action: Action, at_ms: int, actor: str, note: str
) -> tuple[Case, TimelineEntry]:
    """`action` by `actor` on `case`, kept and told in `tx`; StateConflict (409) when the
    case's state does not allow it."""
    try:
        moved, entry = apply(case, action, at_ms, actor, note)
    except IllegalTransition as err:
        raise StateConflict(str(err)) from err
    tx.update_case(moved, entry)
    tell(services, tx, [CaseChange(moved, entry)])
    return moved, entry
