"""Governance statistics (考核, CONTRACT §10): a period's cases counted per group, pure.

The street grades its communities and grids on 及时签收率 (signed for in time), 按时办结率
(handled in time) and 回访满意率 (residents satisfied at the follow-up call). Each case is
judged against the deadlines in force for it: a complaint case's own (its source's 12345
limits, rules/complaint.py), else its community's escalation schedule (rules/policy.py):
signed for in time = before the schedule would have moved it up for not being
acknowledged; handled in time = before the first "unresolved" step. The closure rate
stands beside the reopen rate: grading on closures alone rewards closing too early.

The store reads each case's facts in one pass (store/stats.py); this module decides.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NamedTuple

from linli.rules.case import CaseState
from linli.rules.policy import Escalation


class GroupBy(StrEnum):
    """What the cases are counted by (`?by=`)."""

    COMMUNITY = "community"
    GRID = "grid"
    SITE = "site"
    RULE = "rule"


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the statistics need of one case, read from its row and its timeline."""

    id: int
    community: str
    grid: str
    site: str
    rule: str
    opened_ms: int
    state: CaseState
    # the first time a person took the case up (acknowledge, or start, resolve or close
    # straight away): a reopen does not undo that it was signed for
    taken_ms: int | None
    # the resolution in force (a reopen clears it; the case's own `resolved_ms`)
    resolved_ms: int | None
    reopened: bool  # reopened at least once
    sign_by_ms: int | None = None  # a complaint case's time limits (CONTRACT §7)
    handle_by_ms: int | None = None
    complaints: int = 0  # residents' complaints on the case
    followups: int = 0  # of them, rated at the follow-up call (回访)
    satisfied: int = 0  # of those, satisfied


class Deadlines(NamedTuple):
    """When a case was due to be signed for and handled (None: no such limit)."""

    sign_by_ms: int | None
    handle_by_ms: int | None


def deadlines_of(case: CaseFacts, escalation: Escalation) -> Deadlines:
    """The deadlines in force for a case: a complaint case's own time limits replace the
    schedule (as rules/case.py `due_level` escalates on them); otherwise the schedule's
    "unacknowledged" step and its first "unresolved" step, counted from opening."""
    if case.sign_by_ms is not None or case.handle_by_ms is not None:
        return Deadlines(case.sign_by_ms, case.handle_by_ms)
    handle = escalation.unresolved_s[0] if escalation.unresolved_s else None
    return Deadlines(
        case.opened_ms + escalation.unacknowledged_s * 1000,
        None if handle is None else case.opened_ms + handle * 1000,
    )


def _before(at_ms: int | None, by_ms: int | None) -> bool:
    """Done, and before its deadline (a case escalates at the deadline itself)."""
    return at_ms is not None and (by_ms is None or at_ms < by_ms)


def _due(at_ms: int | None, by_ms: int | None, now_ms: int) -> bool:
    """Done, or its deadline passed: whether it counts in the in-time rate's denominator."""
    return at_ms is not None or (by_ms is not None and by_ms <= now_ms)


@dataclass(frozen=True, slots=True)
class Figures:
    """One group's figures (CONTRACT §10), and the rates built on them."""

    group: str
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
    # cases that were signed for, or whose sign-for deadline has passed; likewise for
    # handling: what the in-time rates divide by (a case still within its time is
    # neither in time nor late yet)
    ack_due: int
    resolve_due: int

    @property
    def ack_in_time_rate(self) -> float | None:
        """及时签收率: signed for in time, of those due to be signed for by now."""
        return _rate(self.acknowledged_in_time, self.ack_due)

    @property
    def resolved_in_time_rate(self) -> float | None:
        """按时办结率: handled in time, of those due to be handled by now."""
        return _rate(self.resolved_in_time, self.resolve_due)

    @property
    def closure_rate(self) -> float | None:
        """结案率: closed, of the cases opened."""
        return _rate(self.closed, self.opened)

    @property
    def reopen_rate(self) -> float | None:
        """重开率: reopened at least once, of the cases opened (read beside the closure rate)."""
        return _rate(self.reopened, self.opened)

    @property
    def satisfaction_rate(self) -> float | None:
        """回访满意率: satisfied, of the complaints rated at the follow-up call."""
        return _rate(self.followups_satisfied, self.followups)


RATES: Final = (
    "ack_in_time_rate",
    "resolved_in_time_rate",
    "closure_rate",
    "reopen_rate",
    "satisfaction_rate",
)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def key_of(case: CaseFacts, by: GroupBy) -> str:
    """The group a case is counted in."""
    return {
        GroupBy.COMMUNITY: case.community,
        GroupBy.GRID: case.grid,
        GroupBy.SITE: case.site,
        GroupBy.RULE: case.rule,
    }[by]


def figures(
    group: str,
    cases: Iterable[CaseFacts],
    escalation_of: Callable[[str], Escalation],
    now_ms: int,
) -> Figures:
    """The figures of one group of cases, each judged against its community's schedule."""
    opened = acknowledged = ack_in_time = resolved = resolved_in_time = 0
    closed = reopened = complaints = followups = satisfied = ack_due = resolve_due = 0
    waits_s: list[float] = []
    for case in cases:
        due = deadlines_of(case, escalation_of(case.community))
        opened += 1
        if case.taken_ms is not None:
            acknowledged += 1
            waits_s.append((case.taken_ms - case.opened_ms) / 1000)
        ack_in_time += _before(case.taken_ms, due.sign_by_ms)
        ack_due += _due(case.taken_ms, due.sign_by_ms, now_ms)
        resolved += case.resolved_ms is not None
        resolved_in_time += _before(case.resolved_ms, due.handle_by_ms)
        resolve_due += _due(case.resolved_ms, due.handle_by_ms, now_ms)
        closed += case.state is CaseState.CLOSED
        reopened += case.reopened
        complaints += case.complaints
        followups += case.followups
        satisfied += case.satisfied
    return Figures(
        group,
        opened,
        acknowledged,
        ack_in_time,
        resolved,
        resolved_in_time,
        closed,
        reopened,
        statistics.median(waits_s) if waits_s else None,
        complaints,
        followups,
        satisfied,
        ack_due,
        resolve_due,
    )


def group_figures(
    cases: Sequence[CaseFacts],
    by: GroupBy,
    escalation_of: Callable[[str], Escalation],
    now_ms: int,
) -> list[Figures]:
    """Each group's figures, by group id."""
    grouped: dict[str, list[CaseFacts]] = defaultdict(list)
    for case in cases:
        grouped[key_of(case, by)].append(case)
    return [figures(k, grouped[k], escalation_of, now_ms) for k in sorted(grouped)]


def total(
    cases: Sequence[CaseFacts], escalation_of: Callable[[str], Escalation], now_ms: int
) -> Figures:
    """Every case of the period as one group (its median is over all of them, not a
    median of the groups' medians)."""
    return figures("", cases, escalation_of, now_ms)


# Every figure with what a Chinese reader calls it: the CSV's headers, the board's table
# and the monthly message read this one table, so a figure has one name everywhere.
LABELS: Final[tuple[tuple[str, str], ...]] = (
    ("opened", "新开工单"),
    ("acknowledged", "已签收"),
    ("acknowledged_in_time", "及时签收"),
    ("resolved", "已办结"),
    ("resolved_in_time", "按时办结"),
    ("closed", "已结案"),
    ("reopened", "重新打开"),
    ("median_ack_s", "签收用时中位数（秒）"),
    ("complaints", "居民投诉"),
    ("followups", "回访"),
    ("followups_satisfied", "回访满意"),
    ("ack_in_time_rate", "及时签收率"),
    ("resolved_in_time_rate", "按时办结率"),
    ("closure_rate", "结案率"),
    ("reopen_rate", "重开率"),
    ("satisfaction_rate", "回访满意率"),
)

GROUP_NAMES: Final = {
    GroupBy.COMMUNITY: "社区",
    GroupBy.GRID: "网格",
    GroupBy.SITE: "点位",
    GroupBy.RULE: "规则",
}


def percent(rate: float | None) -> str:
    """A rate as people read it: "87.5%", or "—" when there is nothing to divide by."""
    return "—" if rate is None else f"{rate * 100:.1f}%"
