"""`/api/v1/complaints`: residents' complaints in, judged, on their case (CONTRACT §7)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status

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
from linli.api.services import Services, ServicesDep
from linli.rules.corroboration import Verdict
from linli.rules.disclosure import Reader
from linli.store.complaints import ComplaintRecord, ComplaintTx

log = logging.getLogger(__name__)
router = APIRouter(prefix="/complaints", tags=["complaints"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_200_OK: {
            "model": ComplaintOut,
            "description": "the same request (or the same order, word for word) was kept "
            "already: that complaint",
        },
        **CREATING,
    },
)
def create_complaint(
    body: ComplaintIn, scope: ScopeDep, services: ServicesDep, response: Response
) -> ComplaintOut:
    """A resident's complaint: judged on the sensors, put on the open case of its site and
    kind or on a new `complaint` case (told), 201; the same request again (the same
    `external_id` with the same words) answers the complaint kept for it, 200."""
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
    filed = intake.receive(services, scope, received)
    if not filed.new:
        response.status_code = status.HTTP_200_OK
    with services.db.complaints() as tx:
        return ComplaintOut.model_validate(intake.view(services, tx, filed.record, _reader(scope)))


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
        items = [item for r in found if (item := _listed(services, tx, r, reader)) is not None]
    return ComplaintPage(items=items, total=total, limit=limit, offset=offset)


def _listed(
    services: Services, tx: ComplaintTx, record: ComplaintRecord, reader: Reader
) -> ComplaintOut | None:
    """A complaint as listed for `reader`; one the store holds but linli cannot render (a
    time out of any calendar, kept before times were bounded) is left out and logged: a
    bad row never breaks the list."""
    try:
        return ComplaintOut.model_validate(intake.view(services, tx, record, reader))
    except Exception:  # one row's failure never fails the list (no 500)
        log.exception("complaint %d: cannot be shown; left out of the list", record.id)
        return None


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
