"""The street's page of the board (CONTRACT §9): its communities side by side, each with
its open cases, sites over the limit now, sites offline and cases past a time limit,
each leading to that community's overview (`/board/overview?community=<id>`).

Only the communities the reader's scope reaches are listed (api/scope.py): the street's
staff and admin see them all; a community's staff land on their own community's
overview instead (views.landing).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from linli.api.board import pages, sessions
from linli.api.board.views import OVERVIEW_PAGE, STREET_PAGE, landing, render, site_statuses
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.store import CommunityRecord

router = APIRouter(prefix="/board", include_in_schema=False)


@dataclass(frozen=True, slots=True)
class CommunityNow:
    """One community's state now, for the street's page."""

    id: str
    name: str
    sites: int
    open_cases: int  # cases not yet resolved
    over: int  # sites over their limit now (without a case yet)
    offline: int  # sites with a sensor offline (or none)
    overdue: int  # cases past their sign-for or handle-by time limit


def visible_communities(scope: Scope, svc: Services) -> list[CommunityRecord]:
    """The communities the reader's scope reaches, by id."""
    return [c for c in svc.db.communities() if scope.sees_community(c.id)]


def statuses(scope: Scope, svc: Services, now_ms: int, tz: ZoneInfo) -> list[pages.SiteNow]:
    """Every site in scope with its state now (pages.site_status)."""
    return site_statuses(scope, svc, scope.sites(), now_ms, tz)


def community_rows(
    communities: Sequence[CommunityRecord],
    statuses: Sequence[pages.SiteNow],
    community_of_site: dict[str, str],
    now_ms: int,
    tz: ZoneInfo,
) -> list[CommunityNow]:
    """Each community's counts from its sites' states now."""
    rows = []
    for community in communities:
        mine = [s for s in statuses if community_of_site.get(s.site.id) == community.id]
        counts = Counter(s.status for s in mine)
        active = [c for s in mine for c in s.cases if c.state in pages.ACTIVE]
        overdue = sum(1 for c in active if any(d.overdue for d in pages.deadlines(c, now_ms, tz)))
        rows.append(
            CommunityNow(
                community.id,
                community.name,
                len(mine),
                len(active),
                counts[pages.OVER],
                counts[pages.OFFLINE],
                overdue,
            )
        )
    return rows


@router.get("/street")
def street(request: Request) -> Response:
    """The street's communities side by side; one community's reader goes to its overview."""
    svc = services(request)
    session = sessions.current(request, svc)
    if session is None:
        return RedirectResponse(f"/board/login?next={STREET_PAGE}", status_code=303)
    scope = Scope(session.grant, svc.db)
    communities = visible_communities(scope, svc)
    if landing(scope, len(communities)) != STREET_PAGE:
        return RedirectResponse(OVERVIEW_PAGE, status_code=303)
    now_ms = time.time_ns() // 1_000_000
    tz = ZoneInfo(svc.config.tz)
    found = statuses(scope, svc, now_ms, tz)
    of_site = {s.site.id: scope.community_of_grid(s.site.grid) for s in found}
    rows = community_rows(communities, found, of_site, now_ms, tz)
    totals = {
        "open_cases": sum(r.open_cases for r in rows),
        "over": sum(r.over for r in rows),
        "offline": sum(r.offline for r in rows),
        "overdue": sum(r.overdue for r in rows),
    }
    return render("street.html", session=session, rows=rows, totals=totals)
