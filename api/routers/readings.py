"""`GET /api/v1/sites/{id}/readings`: a site's series of one metric, bucketed per `every`."""

from __future__ import annotations

import time
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Query, status

from linli.api.params import DURATION_PATTERN, TIME, parse_duration_ms, parse_time_ms
from linli.api.schemas import Point, Readings, SensorSeries
from linli.api.scope import ScopeDep
from linli.api.series import aggregate_for
from linli.api.services import ServicesDep
from linli.api.telemetry import site_series
from linli.rules.reading import METRICS

router = APIRouter(tags=["readings"])

DEFAULT_SPAN_MS: Final = 24 * 3_600_000
MAX_BUCKETS: Final = 10_000


@router.get("/sites/{site_id}/readings")
def site_readings(
    site_id: str,
    scope: ScopeDep,
    services: ServicesDep,
    metric: Annotated[
        str,
        Query(
            max_length=32,
            description="a metric of CONTRACT §2, e.g. laeq or oil_fume",
            json_schema_extra={"enum": list(METRICS)},
        ),
    ],
    from_: Annotated[
        str | None,
        Query(alias="from", **TIME, description="RFC 3339 or epoch ms; default to − 24 h"),
    ] = None,
    to: Annotated[
        str | None, Query(**TIME, description="RFC 3339 or epoch ms; default now")
    ] = None,
    every: Annotated[
        str,
        Query(
            max_length=16,
            description="bucket width: 90s, 5m, 1h, 1d (at most 366d)",
            json_schema_extra={"pattern": DURATION_PATTERN},
        ),
    ] = "5m",
) -> Readings:
    """Each of the site's sensors' buckets; dB levels averaged energetically (CONTRACT §4)."""
    site = scope.site(site_id)
    if metric not in METRICS:
        raise _invalid(f"metric: {metric!r} is not one of {', '.join(METRICS)}")
    to_ms = int(time.time() * 1000) if to is None else parse_time_ms("to", to)
    from_ms = to_ms - DEFAULT_SPAN_MS if from_ is None else parse_time_ms("from", from_)
    every_ms = parse_duration_ms("every", every)
    if from_ms >= to_ms:
        raise _invalid(f"from ({from_ms}) must be before to ({to_ms})")
    if (to_ms - from_ms) // every_ms > MAX_BUCKETS:
        raise _invalid(f"from–to holds more than {MAX_BUCKETS} buckets of {every}: widen every")
    series = site_series(
        services.influx, site.id, metric, from_ms, to_ms, every_ms, services.max_raw_points
    )
    return Readings(
        site=site.id,
        metric=metric,
        unit=METRICS[metric].unit,
        aggregate=aggregate_for(metric).value,
        every_ms=every_ms,
        from_ms=from_ms,
        to_ms=to_ms,
        series=[
            SensorSeries(
                sensor=sensor,
                points=[Point(ts_ms=b.ts_ms, value=b.value, count=b.count) for b in buckets],
            )
            for sensor, buckets in series.items()
        ],
    )


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)
