"""`GET /api/v1/rejected` and `/rejected/counts`: what ingest did not store, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from linli.api.params import TIME, IdQuery, Limit, Offset, parse_time_ms
from linli.api.schemas import (
    RejectedMessageOut,
    RejectionCountOut,
    RejectionOut,
    RejectionPage,
)
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.rules.rejection import ReasonCode

router = APIRouter(prefix="/rejected", tags=["rejected"])


@router.get("")
def list_rejected(
    scope: ScopeDep,
    services: ServicesDep,
    sensor: IdQuery = None,
    reason: ReasonCode | None = None,
    from_: Annotated[
        str | None, Query(alias="from", **TIME, description="RFC 3339 or epoch ms")
    ] = None,
    to: Annotated[str | None, Query(**TIME, description="RFC 3339 or epoch ms, exclusive")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RejectionPage:
    """Rejected records, newest first; grid workers and merchants see their sensors' only.

    Each message's payload is shown once, in `messages`; its records refer to it.
    """
    found, messages = services.db.list_rejection_page(
        sensor=sensor,
        reason=reason,
        since_ms=None if from_ is None else parse_time_ms("from", from_),
        until_ms=None if to is None else parse_time_ms("to", to),
        sensors=scope.sensor_ids(),
        limit=limit,
        offset=offset,
    )
    return RejectionPage(
        items=[RejectionOut.of(r) for r in found],
        messages=[RejectedMessageOut.of(m) for m in messages],
        limit=limit,
        offset=offset,
    )


@router.get("/counts")
def count_rejected(scope: ScopeDep, services: ServicesDep) -> list[RejectionCountOut]:
    """Rejected records counted per sensor and reason."""
    counts = services.db.rejection_counts(sensors=scope.sensor_ids())
    return [RejectionCountOut.of(c) for c in counts]
