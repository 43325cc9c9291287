"""The board's statistics page (CONTRACT §10): a month's governance figures for the
community's and the street's staff, printable on A4 in zh-CN.

`/board/stats?month=YYYY-MM` renders the same computation as `GET /api/v1/stats/cases`
(api/routers/stats.py `compute`), grouped by community (for the street), by grid and by
rule, the reopen rate beside the closure rate. The monthly message's signed link
(`&t=`, linli/monthly.py) signs its reader in first. Staff and admin only: the page
grades the authority's own handling; a grid worker or a merchant reads their cases.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from linli.api.board import sessions
from linli.api.board.views import _login_redirect, error_page, open_link, render
from linli.api.routers.stats import compute
from linli.api.scope import Scope
from linli.api.services import services
from linli.rules.monthly import month_bounds, month_title
from linli.rules.stats import GroupBy, percent
from linli.store import Role

router = APIRouter(prefix="/board", include_in_schema=False)

STATS_PAGE = "/board/stats"
READERS = (Role.ADMIN, Role.STAFF)


def last_month(now_ms: int, tz: ZoneInfo) -> str:
    """The month before the one `now_ms` is in, "YYYY-MM"."""
    first = datetime.fromtimestamp(now_ms / 1000, tz).replace(day=1)
    last = first - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


@router.get("/stats")
def stats_page(request: Request, month: str | None = None, t: str | None = None) -> Response:
    """A month's figures by community, grid and rule; `?month=` defaults to the last one."""
    svc = services(request)
    tz = ZoneInfo(svc.config.tz)
    chosen = month or last_month(time.time_ns() // 1_000_000, tz)
    if t is not None:
        return open_link(request, svc, t, f"{STATS_PAGE}?month={chosen[:7]}")
    session = sessions.current(request, svc)
    if session is None:
        return _login_redirect(request)
    if session.grant.role not in READERS:
        return error_page(403, "无权查看", "统计页面供社区和街道工作人员查看。", session)
    try:
        from_ms, to_ms = month_bounds(chosen, tz)
    except ValueError:
        shown = chosen[:20]
        return error_page(422, "月份有误", f"“{shown}”不是形如 2025-11 的月份。", session)
    scope = Scope(session.grant, svc.db)
    tables = []
    several = sum(1 for c in svc.db.communities() if scope.sees_community(c.id)) > 1
    for by in (GroupBy.COMMUNITY, GroupBy.GRID, GroupBy.RULE):
        if by is GroupBy.COMMUNITY and not several:
            continue
        groups, whole = compute(scope, svc, from_ms, to_ms, by)
        tables.append((by, groups, whole))
    return render(
        "stats.html",
        session=session,
        month=chosen,
        title=month_title(chosen),
        tables=tables,
        percent=percent,
        group_names={
            GroupBy.COMMUNITY: "按社区",
            GroupBy.GRID: "按网格",
            GroupBy.RULE: "按规则",
        },
    )
