"""`GET /api/v1/spool/failed`: batches set aside in the spool's failed/ (admin, staff).

A point InfluxDB refuses becomes a rejected record (`not_storable`) and the
rest of its batch is stored; failed/ receives only linli's own count lines that InfluxDB
refused, and what older versions set aside. Nothing there is silent: `/health` counts it.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from linli.api.schemas import FailedBatchOut
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep

router = APIRouter(prefix="/spool", tags=["spool"])

_HEAD_CHARS = 2000


@router.get("/failed")
def list_failed(scope: ScopeDep, services: ServicesDep) -> list[FailedBatchOut]:
    """Each file in failed/, oldest first, with its first lines; 403 below staff."""
    if not scope.whole:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {scope.grant.role} may not do this")
    out = []
    for path in services.config.spool.failed():
        body = path.read_bytes()
        stat = path.stat()
        out.append(
            FailedBatchOut(
                name=path.name,
                bytes=len(body),
                lines=len(body.splitlines()),
                modified_ms=stat.st_mtime_ns // 1_000_000,
                head=body[:_HEAD_CHARS].decode("utf-8", "replace"),
            )
        )
    return out
