"""`/api/v1/complaints`: residents' complaints in, judged, on their case (CONTRACT §7)."""

from __future__ import annotations

from fastapi import APIRouter, status

from linli.api import disclosure, intake
from linli.api.complaint_schemas import (
    ComplaintDetailOut,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    FollowupIn,
)
from linli.api.errors import ACTING, CREATING
from linli.api.params import IdQuery, Limit, Offset, RowId, RowIdQuery, parse_time_ms
from linli.api.scope import Scope, ScopeDep
from linli.api.services import ServicesDep
from linli.rules.corroboration import Verdict
from linli.rules.disclosure import Reader

router = APIRouter(prefix="/complaints", tags=["complaints"])


@router.post("", status_code=status.HTTP_201_CREATED, responses=CREATING)
def create_complaint(body: ComplaintIn, scope: ScopeDep, services: ServicesDep) -> ComplaintOut:
    """A resident's complaint: judged on the sensors, put on the open case of its site and
    kind or on a new `complaint` case (told); the same request again is 409."""
    received = intake.Intake(
        kind=body.kind,
        text=body.text,
        source=body.source.value,
        site=body.site,
        address=body.address,
        from_ms=None if body.from_ is None else parse_time_ms("from", body.from_),
        to_ms=None if body.to is None else parse_time_ms("to", body.to),
        external_id=body.external_id,
        contact=None if body.contact is None else body.contact.model_dump(),
    )
    record = intake.receive(services, scope, received)
    with services.db.complaints() as tx:
        return ComplaintOut.model_validate(intake.view(services, tx, record, _reader(scope)))


@router.get("")
def list_complaints(
    scope: ScopeDep,
    services: ServicesDep,
    site: IdQuery = None,
    case: RowIdQuery = None,
    verdict: Verdict | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ComplaintPage:
    """Complaints in scope, newest first."""
    sites = None if scope.whole else [s.id for s in scope.sites()]
    with services.db.complaints() as tx:
        found, total = tx.list_complaints(
            site=site, case_id=case, verdict=verdict, sites=sites, limit=limit, offset=offset
        )
        reader = _reader(scope)
        items = [ComplaintOut.model_validate(intake.view(services, tx, r, reader)) for r in found]
    return ComplaintPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{complaint_id}")
def get_complaint(
    complaint_id: RowId, scope: ScopeDep, services: ServicesDep
) -> ComplaintDetailOut:
    """One complaint with its verdict, the readings that judged it, its case's resolution
    and the follow-up; a `data_gap` one is judged again first (late readings)."""
    with services.db.complaints() as tx:
        record = tx.complaint(complaint_id)
    intake.in_scope(scope, record)
    record = intake.rejudge_one(services, record)
    with services.db.complaints() as tx:
        shown = intake.view(services, tx, record, _reader(scope), readings=True)
        return ComplaintDetailOut.model_validate(shown)


@router.post("/{complaint_id}/followup", responses=ACTING)
def followup(
    complaint_id: RowId, body: FollowupIn, scope: ScopeDep, services: ServicesDep
) -> ComplaintOut:
    """The follow-up call (回访): satisfied, or not (the case is reopened)."""
    record = intake.followup(services, scope, complaint_id, body.satisfied, body.note)
    with services.db.complaints() as tx:
        return ComplaintOut.model_validate(intake.view(services, tx, record, _reader(scope)))


def _reader(scope: Scope) -> Reader:
    return disclosure.reader_of(scope.grant)
