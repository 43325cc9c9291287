"""The facts of a period's cases for the statistics (rules/stats.py), in one query.

One statement on SQLite and PostgreSQL alike: the cases opened in `[from, to)` (by
`ix_cases_opened_ms`) with their grid's community, each one's first taking-up and
whether it was ever reopened (correlated subqueries answered from the covering index
`ix_timeline_case_action`, migration 0015: a case's timeline is mostly messages told,
whose rows are never read), and its complaints and follow-ups (by
`ix_complaints_case_id`, aggregated per case). No query per case from Python: a
street's year is a few tens of thousands of rows read once.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sqlalchemy import Connection, and_, case, exists, func, select

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
    own = timeline.c.case_id == cases.c.id
    # per case, answered from ix_timeline_case_action alone (index seeks, no table rows)
    taken = (
        select(func.min(timeline.c.at_ms))
        .where(own, timeline.c.action.in_([a.value for a in TAKING]))
        .scalar_subquery()
    )
    reopened = exists().where(own, timeline.c.to_state == CaseState.REOPENED.value)
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
            taken.label("taken_ms"),
            reopened.label("reopened"),
            said.c.n,
            said.c.rated,
            said.c.satisfied,
        )
        .select_from(cases)
        .outerjoin(grids, grids.c.id == cases.c.grid)
        .outerjoin(said, said.c.case_id == cases.c.id)
        .where(in_period)
    )
    if grid_ids is not None:
        q = q.where(cases.c.grid.in_(list(grid_ids)))
    if site_ids is not None:
        q = q.where(cases.c.site.in_(list(site_ids)))
    out = []
    for row in conn.execute(q.order_by(cases.c.id)):
        (id_, community, grid, site, rule, opened, state, resolved, sign_by, handle_by,
         taken_ms, was_reopened, n, n_rated, n_satisfied) = row  # fmt: skip
        out.append(
            CaseFacts(
                int(id_),
                community,
                grid,
                site,
                rule,
                int(opened),
                CaseState(state),
                None if taken_ms is None else int(taken_ms),
                None if resolved is None else int(resolved),
                bool(was_reopened),
                None if sign_by is None else int(sign_by),
                None if handle_by is None else int(handle_by),
                int(n or 0),  # PostgreSQL's sums are numeric: ints here
                int(n_rated or 0),
                int(n_satisfied or 0),
            )
        )
    return out
