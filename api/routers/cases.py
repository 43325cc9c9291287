"""`/api/v1/cases`: list, read with evidence, act on (CONTRACT §5)."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Query

from linli.api import disclosure
from linli.api.acting import act as act_on
from linli.api.acting import actor
from linli.api.case_schemas import ActionIn, CaseDetailOut, CaseOut, CasePage
from linli.api.errors import ACTING
from linli.api.params import TIME, IdQuery, Limit, Offset, RowId, parse_time_ms
from linli.api.permissions import require_action
from linli.api.scope import Scope, ScopeDep
from linli.api.services import Services, ServicesDep
from linli.rules.case import CaseKind, CaseState
from linli.rules.delivery import Delivery
from linli.rules.disclosure import Reader
from linli.store import NotFound
from linli.store.cases import CaseDetail

router = APIRouter(prefix="/cases", tags=["cases"])

MAX_QUOTED: Final = 10_000  # a case's complaints whose words a merchant's notes are kept from


def _site_ids(scope: Scope) -> list[str] | None:
    return None if scope.whole else [s.id for s in scope.sites()]


@router.get("")
def list_cases(
    scope: ScopeDep,
    services: ServicesDep,
    state: CaseState | None = None,
    site: IdQuery = None,
    grid: IdQuery = None,
    kind: CaseKind | None = None,
    rule: IdQuery = None,
    from_: Annotated[
        str | None, Query(alias="from", **TIME, description="opened at or after")
    ] = None,
    to: Annotated[str | None, Query(**TIME, description="opened before")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CasePage:
    """Cases in scope, newest first."""
    with services.db.cases() as tx:
        found, total = tx.list_cases(
            state=state,
            site=site,
            grid=grid,
            kind=kind,
            rule=rule,
            since_ms=None if from_ is None else parse_time_ms("from", from_),
            until_ms=None if to is None else parse_time_ms("to", to),
            sites=_site_ids(scope),
            limit=limit,
            offset=offset,
        )
    items = [CaseOut.model_validate(c) for c in found]
    return CasePage(items=items, total=total, limit=limit, offset=offset)


def _detail_out(d: CaseDetail, scope: Scope, services: Services) -> CaseDetailOut:
    """The case as its reader may read it: notes that quote a resident and other levels'
    recipients withheld from a merchant (CONTRACT §7, api/disclosure.py)."""
    reader = disclosure.reader_of(scope.grant)
    told: list[Delivery] = []
    withheld: tuple[str, ...] = ()
    if reader is not Reader.AUTHORITY:
        assert d.case.id is not None
        with services.db.outbox() as box:
            told = list(box.of_case(d.case.id))
        with services.db.complaints() as tx:
            found, _ = tx.list_complaints(case_id=d.case.id, limit=MAX_QUOTED)
        withheld = disclosure.withheld_of(found)
    entries = disclosure.timeline(reader, d.timeline, told, withheld)
    return CaseDetailOut.model_validate(
        {
            **CaseOut.model_validate(d.case).model_dump(),
            "occurrences_list": d.occurrences,
            "evidence": d.evidence,
            "timeline": entries,
        }
    )


def _in_scope(scope: Scope, site: str, case_id: int) -> None:
    sites = _site_ids(scope)
    if sites is not None and site not in sites:
        raise NotFound(f"case {case_id} does not exist")


@router.get("/{case_id}")
def get_case(case_id: RowId, scope: ScopeDep, services: ServicesDep) -> CaseDetailOut:
    """One case with its evidence, occurrences and timeline."""
    with services.db.cases() as tx:
        detail = tx.detail(case_id)
    _in_scope(scope, detail.case.site, case_id)
    return _detail_out(detail, scope, services)


@router.post("/{case_id}/actions", responses=ACTING)
def act(case_id: RowId, body: ActionIn, scope: ScopeDep, services: ServicesDep) -> CaseDetailOut:
    """acknowledge, start, resolve, close, reopen or comment; the timeline records who."""
    with services.db.cases() as tx:
        case = tx.get(case_id)
        _in_scope(scope, case.site, case_id)
        require_action(scope.grant, body.action)  # 403 inside the scope, 404 outside
        at_ms = services.clock()
        act_on(services, tx, case, body.action, at_ms, actor(scope.grant), body.note)
        detail = tx.detail(case_id)
    return _detail_out(detail, scope, services)
