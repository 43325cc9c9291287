"""`GET /api/v1/stats/cases`: governance statistics per group (CONTRACT §10), JSON or CSV.

Within the caller's scope, like `GET /cases` (api/scope.py): the street's staff and admin
count every case, a community's staff the cases of their communities' grids, a grid
worker those of their grids, a merchant those of its own site. A merchant reads its own
cases, their times and how many complaints they carry already (CONTRACT §5, CONTRACT §7); the
figures add nothing about a resident (counts only), so its own site's statistics are its
evidence rather than something to refuse.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Final, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from linli.api.params import (
    MAX_DURATION_MS,
    TIME_OR_DATE,
    month_bounds_ms,
    month_param,
    parse_time_or_date_ms,
)
from linli.api.scope import Scope, ScopeDep
from linli.api.services import Services, ServicesDep
from linli.rules.localtime import rfc3339
from linli.rules.names import rule_name
from linli.rules.policy import Escalation
from linli.rules.stats import (
    GROUP_NAMES,
    LABELS,
    RATES,
    CaseFacts,
    Figures,
    GroupBy,
    group_figures,
    total,
)
from linli.store import Role

router = APIRouter(prefix="/stats", tags=["stats"])

BOM: Final = "\ufeff"  # so that Excel opens the CSV as UTF-8 (Chinese headers)


class FiguresOut(BaseModel):
    """One group's figures (CONTRACT §10) and the rates built on them (0–1, null when
    there is nothing to divide by)."""

    group: str = Field(description="the community, grid, site or rule id; '' for the total")
    name: str
    opened: int
    acknowledged: int
    acknowledged_in_time: int
    resolved: int
    resolved_in_time: int
    closed: int
    reopened: int
    median_ack_s: float | None
    complaints: int
    followups: int
    followups_satisfied: int
    ack_in_time_rate: float | None = Field(description="及时签收率: of the cases due by now")
    resolved_in_time_rate: float | None = Field(description="按时办结率: of the cases due by now")
    closure_rate: float | None = Field(description="结案率: closed of opened")
    reopen_rate: float | None = Field(description="重开率: reopened of opened")
    satisfaction_rate: float | None = Field(description="回访满意率: satisfied of rated")


class StatsOut(BaseModel):
    """The period's figures per group, and all of them together."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    by: GroupBy
    groups: list[FiguresOut]
    total: FiguresOut


def _invalid(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def facts_in_scope(scope: Scope, services: Services, from_ms: int, to_ms: int) -> list[CaseFacts]:
    """The facts of the cases opened in `[from_ms, to_ms)` that the caller may read."""
    if scope.whole:
        return services.db.case_facts(from_ms, to_ms)
    if scope.grant.role is Role.MERCHANT:
        return services.db.case_facts(from_ms, to_ms, site_ids=[s.id for s in scope.sites()])
    return services.db.case_facts(from_ms, to_ms, grid_ids=[g.id for g in scope.grids()])


def names_of(services: Services, by: GroupBy) -> dict[str, str]:
    """What people call each group."""
    if by is GroupBy.COMMUNITY:
        return {c.id: c.name for c in services.db.communities()}
    if by is GroupBy.GRID:
        return {g.id: g.name for g in services.db.grids()}
    if by is GroupBy.SITE:
        return {s.id: s.name for s in services.db.sites()}
    return {}


def figures_out(f: Figures, name: str) -> FiguresOut:
    """One group's figures as the API gives them."""
    return FiguresOut(
        group=f.group,
        name=name,
        opened=f.opened,
        acknowledged=f.acknowledged,
        acknowledged_in_time=f.acknowledged_in_time,
        resolved=f.resolved,
        resolved_in_time=f.resolved_in_time,
        closed=f.closed,
        reopened=f.reopened,
        median_ack_s=f.median_ack_s,
        complaints=f.complaints,
        followups=f.followups,
        followups_satisfied=f.followups_satisfied,
        **{rate: getattr(f, rate) for rate in RATES},
    )


def compute(
    scope: Scope, services: Services, from_ms: int, to_ms: int, by: GroupBy
) -> tuple[list[FiguresOut], FiguresOut]:
    """Each group's figures and the total, as of the service's clock: the one computation
    the API, the board's page and the monthly message render."""
    facts = facts_in_scope(scope, services, from_ms, to_ms)
    now_ms = services.clock()

    def escalation_of(community: str) -> Escalation:
        return services.policy.of(community).escalation

    names = names_of(services, by)
    groups = [
        figures_out(
            f, names.get(f.group) or (rule_name(f.group) if by is GroupBy.RULE else f.group)
        )
        for f in group_figures(facts, by, escalation_of, now_ms)
    ]
    return groups, figures_out(total(facts, escalation_of, now_ms), "合计")


def parse_range(from_: str, to: str, tz: ZoneInfo) -> tuple[int, int]:
    """`[from, to)` in epoch ms (a plain date is its day's start in `tz`); 422 with one
    sentence when reversed or over a year."""
    from_ms = parse_time_or_date_ms("from", from_, tz)
    to_ms = parse_time_or_date_ms("to", to, tz)
    if to_ms <= from_ms:
        raise _invalid(f"to: {to!r} is not after from {from_!r}")
    if to_ms - from_ms > MAX_DURATION_MS:
        raise _invalid(f"from {from_!r} to {to!r} is longer than 366 days")
    return from_ms, to_ms


def parse_period(
    from_: str | None, to: str | None, month: str | None, tz: ZoneInfo
) -> tuple[int, int]:
    """The period asked for: a local month, or `[from, to)`; 422 with one sentence when it
    is both, neither, or half a range."""
    if month is not None:
        if from_ is not None or to is not None:
            raise _invalid("give either month or from and to, not both")
        return month_bounds_ms(month_param(month), tz)
    if from_ is None:
        raise _invalid("from: required, with to (or give month instead)")
    if to is None:
        raise _invalid("to: required, with from (or give month instead)")
    return parse_range(from_, to, tz)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


def to_csv(by: GroupBy, groups: list[FiguresOut], whole: FiguresOut) -> str:
    """The figures as CSV with Chinese headers and a BOM, a row per group, the total last."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([GROUP_NAMES[by], "名称", *(zh for _, zh in LABELS)])
    for row in [*groups, whole]:
        writer.writerow([row.group, row.name, *(_cell(getattr(row, k)) for k, _ in LABELS)])
    return BOM + out.getvalue()


@router.get("/cases", response_model=StatsOut, responses={200: {"content": {"text/csv": {}}}})
def case_stats(
    scope: ScopeDep,
    services: ServicesDep,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            **TIME_OR_DATE,
            description="cases opened at or after: RFC 3339, epoch ms or a local date",
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(**TIME_OR_DATE, description="cases opened before: RFC 3339, epoch ms or a date"),
    ] = None,
    month: Annotated[
        str | None,
        Query(max_length=16, description="YYYY-MM, local: that month's cases (not with from/to)"),
    ] = None,
    by: Annotated[GroupBy, Query(description="community, grid, site or rule")] = (
        GroupBy.COMMUNITY
    ),
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> StatsOut | Response:
    """The governance figures of the cases opened in `[from, to)` or in a local month, per
    group."""
    from_ms, to_ms = parse_period(from_, to, month, ZoneInfo(services.config.tz))
    groups, whole = compute(scope, services, from_ms, to_ms, by)
    if format == "csv":
        name = f"linli-stats-{by.value}.csv"
        return Response(
            to_csv(by, groups, whole).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return StatsOut.model_validate(
        {"from": rfc3339(from_ms), "to": rfc3339(to_ms), "by": by, "groups": groups, "total": whole}
    )
