"""`GET /api/v1/deliveries` and `/cases/{id}/deliveries`: what linli told whom, and how it went."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from linli.api import disclosure
from linli.api.params import Limit, Offset, RowId
from linli.api.schemas import DeliveryOut
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.rules.delivery import DeliveryState
from linli.store import NotFound, Role

router = APIRouter(tags=["deliveries"])


@router.get("/deliveries")
def list_deliveries(
    scope: ScopeDep,
    services: ServicesDep,
    state: DeliveryState = DeliveryState.FAILED,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DeliveryOut]:
    """Deliveries in one state (failed by default), newest first; staff and admins (a
    community's staff: its communities' cases only)."""
    if scope.grant.role not in (Role.ADMIN, Role.STAFF):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {scope.grant.role} may not do this")
    sites = None if scope.whole else [s.id for s in scope.sites()]
    with services.db.outbox() as tx:
        found = tx.in_state(state, limit, offset, sites)
    reader = disclosure.reader_of(scope.grant)
    return [DeliveryOut.of(d) for d in disclosure.deliveries(reader, found)]


@router.get("/cases/{case_id}/deliveries")
def case_deliveries(case_id: RowId, scope: ScopeDep, services: ServicesDep) -> list[DeliveryOut]:
    """A case's deliveries, oldest first; a case out of scope does not exist."""
    with services.db.cases() as tx:
        case = tx.get(case_id)
    if not scope.whole and case.site not in {s.id for s in scope.sites()}:
        raise NotFound(f"case {case_id} does not exist")
    with services.db.outbox() as tx:
        found = tx.of_case(case_id)
    # a merchant reads its own level's in full, others' as level, channel and state only
    reader = disclosure.reader_of(scope.grant)
    return [DeliveryOut.of(d) for d in disclosure.deliveries(reader, found)]
