"""`GET /api/v1/reports/sites/{id}?month=YYYY-MM`: a site's month (CONTRACT §10), as JSON,
CSV (UTF-8 with a BOM, for Excel) or XLSX."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from linli.api import exports
from linli.api.params import month_param
from linli.api.report_schemas import SiteMonthOut
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.api.sitemonth import month_doc, site_month_report
from linli.rules.month import month_of

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get(
    "/sites/{site_id}",
    response_model=SiteMonthOut,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                exports.XLSX_MEDIA: {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
def site_month(
    site_id: str,
    scope: ScopeDep,
    services: ServicesDep,
    month: Annotated[
        str | None, Query(max_length=16, description="YYYY-MM, local; default this month")
    ] = None,
    format: Annotated[
        Literal["json", "csv", "xlsx"], Query(description="json, csv (UTF-8, BOM) or xlsx")
    ] = "json",
) -> object:
    """A site's month: per local day Ld, Ln, limits, minutes over, coverage, fume and
    purifier figures, cases and complaints (counts only), and the month's summary."""
    site = scope.site(site_id)
    wanted = (
        month_of(time.time_ns() // 1_000_000, services.policy_of(site.id).calendar.tz)
        if month is None
        else month_param(month)
    )
    report = site_month_report(services, site, wanted)
    if format == "csv":
        return Response(
            exports.csv_bytes(report),
            media_type=exports.CSV_MEDIA,
            headers=_attachment(exports.filename(report, "csv")),
        )
    if format == "xlsx":
        return Response(
            exports.xlsx_bytes(report),
            media_type=exports.XLSX_MEDIA,
            headers=_attachment(exports.filename(report, "xlsx")),
        )
    return month_doc(report)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
