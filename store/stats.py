"""The facts of a period's cases for the statistics (rules/stats.py), in one query.

One statement on SQLite and PostgreSQL alike: the cases opened in `[from, to)` (by
`ix_cases_opened_ms`) with their grid's community, each one's first taking-up and
whether it was ever reopened (its timeline, by `ix_timeline_case_id`, aggregated per
case), and its complaints and follow-ups (by `ix_complaints_case_id`, aggregated per
case). No query per case: a street's year is a few tens of thousands of rows read once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sqlalchemy import Connection, and_, case, func, literal, or_, select

from linli.rules.case import Action, CaseState
from linli.rules.stats import CaseFacts
from linli.store.tables import cases, complaints, grids, timeline

# A person taking a case up: signing for it, or starting, resolving or closing it without
# signing first (all people's actions: linli itself only occurs, escalates, verifies,
# recovers and tells).
TAKING: Final = (Action.ACKNOWLEDGE, Action.START, Action.RESOLVE, Action.CLOSE)


def case_facts(
    conn: Connection,
    from_ms: int,
    to_ms: int,
    *,
    grid_ids: Collection[str] | None = None,
    site_ids: Collection[str] | None = None,
) -> list[CaseFacts]:
    """The facts of every case opened in `[from_ms, to_ms)`, limited to `grid_ids` and
    `site_ids` when given (a caller's scope)."""
    in_period = and_(cases.c.opened_ms >= from_ms, cases.c.opened_ms < to_ms)
    taking = [a.value for a in TAKING]
    steps = (
        select(
            timeline.c.case_id.label("case_id"),
            func.min(case((timeline.c.action.in_(taking), timeline.c.at_ms))).label("taken_ms"),
            func.max(
                case((timeline.c.to_state == CaseState.REOPENED.value, literal(1)), else_=0)
            ).label("reopened"),
        )
        .join(cases, cases.c.id == timeline.c.case_id)
        .where(in_period)
        .where(
            or_(
                timeline.c.action.in_(taking),
                timeline.c.to_state == CaseState.REOPENED.value,
            )
        )
        .group_by(timeline.c.case_id)
        .subquery("steps")
    )
    rated = complaints.c.followup_ms.is_not(None)
    said = (
        select(
            complaints.c.case_id.label("case_id"),
            # every complaint on the case, as the case's own count has them
            func.count().label("n"),
            func.sum(case((rated, 1), else_=0)).label("rated"),
            func.sum(
                case((and_(rated, complaints.c.followup_satisfied.is_(True)), 1), else_=0)
            ).label("satisfied"),
        )
        .join(cases, cases.c.id == complaints.c.case_id)
        .where(in_period)
        .group_by(complaints.c.case_id)
        .subquery("said")
    )
    q = (
        select(
            cases.c.id,
            func.coalesce(grids.c.community, "").label("community"),
            cases.c.grid,
            cases.c.site,
            cases.c.rule,
            cases.c.opened_ms,
            cases.c.state,
            cases.c.resolved_ms,
            cases.c.sign_by_ms,
            cases.c.handle_by_ms,
            steps.c.taken_ms,
            steps.c.reopened,
            said.c.n,
            said.c.rated,
            said.c.satisfied,
        )
        .select_from(cases)
        .outerjoin(grids, grids.c.id == cases.c.grid)
        .outerjoin(steps, steps.c.case_id == cases.c.id)
        .outerjoin(said, said.c.case_id == cases.c.id)
        .where(in_period)
    )
    if grid_ids is not None:
        q = q.where(cases.c.grid.in_(list(grid_ids)))
    if site_ids is not None:
        q = q.where(cases.c.site.in_(list(site_ids)))
    return [
        CaseFacts(
            id=int(r.id),
            community=r.community,
            grid=r.grid,
            site=r.site,
            rule=r.rule,
            opened_ms=int(r.opened_ms),
            state=CaseState(r.state),
            taken_ms=None if r.taken_ms is None else int(r.taken_ms),
            resolved_ms=None if r.resolved_ms is None else int(r.resolved_ms),
            reopened=bool(r.reopened),
            sign_by_ms=None if r.sign_by_ms is None else int(r.sign_by_ms),
            handle_by_ms=None if r.handle_by_ms is None else int(r.handle_by_ms),
            complaints=int(r.n or 0),
            followups=int(r.rated or 0),
            satisfied=int(r.satisfied or 0),
        )
        for r in conn.execute(q.order_by(cases.c.id))
    ]
