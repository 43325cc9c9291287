"""`GET /api/v1/health`: the broker, InfluxDB and the case store; no token needed.

Without a token (or with a merchant's or grid worker's) it shows the overall state and
each part's up/down only, the notification channels numbered, not named: the details
name InfluxDB's address, the spool's paths, driver messages and the channels (which name
the community's groups and providers), which are for the people who run linli (an
admin's or staff's token).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Final

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse

from linli.api.errors import GUARDED
from linli.api.schemas import Health, Part, SpoolPart
from linli.api.services import Services, ServicesDep
from linli.store import Grant, Role, StoreError

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

DETAILED: Final = frozenset({Role.ADMIN, Role.STAFF})


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health}, 401: GUARDED[401], 429: GUARDED[429]},
)
def health(request: Request, services: ServicesDep) -> JSONResponse:
    """200 when every part answers, 503 with the same body when any does not.

    The details (addresses, paths, messages) with an admin's or staff's token only; a
    token that is given must be valid (401).
    """
    broker = _check(lambda: "connected" if services.broker_status() else None)
    influx = _check(lambda: f"InfluxDB {services.influx.ping()}")
    store = _check(lambda: _store_ping(services))
    body = Health(
        status="ok" if broker.ok and influx.ok and store.ok else "degraded",
        broker=broker,
        influxdb=influx,
        case_store=store,
        spool=spool_status(services),
        channels={
            name: Part(ok=ok, detail=detail)
            for name, (ok, detail) in services.channel_health().items()
        },
    )
    code = status.HTTP_200_OK if body.status == "ok" else status.HTTP_503_SERVICE_UNAVAILABLE
    grant = getattr(request.state, "grant", None)  # the guard checked a token given
    # a community's staff (CONTRACT §9) reads statuses only: the channels are the street's
    if not (isinstance(grant, Grant) and grant.role in DETAILED and grant.communities is None):
        body = statuses_only(body)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=code)


def statuses_only(body: Health) -> Health:
    """What a stranger sees: each part's `ok`, no address, path, message or channel name."""
    return Health(
        status=body.status,
        broker=Part(ok=body.broker.ok),
        influxdb=Part(ok=body.influxdb.ok),
        case_store=Part(ok=body.case_store.ok),
        spool=SpoolPart(ok=body.spool.ok),
        # a channel's id names the community's groups and providers ("ding-hj-east"):
        # a stranger learns only that some channel is up or down
        channels={
            f"channel-{i}": Part(ok=body.channels[name].ok)
            for i, name in enumerate(sorted(body.channels), start=1)
        },
    )


def spool_status(services: Services) -> SpoolPart:
    """What the spool of this service holds (its batches for InfluxDB, its failed/)."""
    spool = services.config.spool
    try:
        waiting, failed = len(spool.waiting()), len(spool.failed())
    except OSError as err:
        return SpoolPart(ok=False, detail=f"spool {spool.root}: {err}", waiting=0, failed=0)
    detail = f"{waiting} batches waiting for InfluxDB, {failed} set aside in {spool.failed_dir}"
    return SpoolPart(ok=failed == 0, detail=detail, waiting=waiting, failed=failed)


def _store_ping(services: Services) -> str:
    """ "reachable"; the driver's message (its SQL, its tables) goes to the log only."""
    try:
        services.db.ping()
    except StoreError as err:
        log.warning("health: %s", err)
        raise StoreError("did not answer (linli's log says why)") from None
    return "reachable"


def _check(probe: Callable[[], str | None]) -> Part:
    """Run one probe: its text when up; None or any exception means down."""
    try:
        detail = probe()
    except Exception as err:  # a health check reports every failure, whatever its type
        return Part(ok=False, detail=str(err) or type(err).__name__)
    if detail is None:
        return Part(ok=False, detail="not connected")
    return Part(ok=True, detail=detail)
