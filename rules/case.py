"""The governance case (工单) and its lifecycle: one transition table (CONTRACT §5).

`open → acknowledged → in_progress → resolved → closed`; a breach during the
verification window after `resolved` makes it `reopened`. Identity is (site, rule):
at most one case not closed per pair, like Prometheus' one active alert per
fingerprint. Every change returns its timeline entry; an illegal move raises.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from linli.rules.policy import Escalation


class CaseKind(StrEnum):
    """What opened the case."""

    BREACH = "breach"  # a rule on the readings
    DEVICE = "device"  # a sensor fault: offline, stuck, implausible
    COMPLAINT = "complaint"  # a resident


class CaseState(StrEnum):
    """CONTRACT §5 case states."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    CLOSED = "closed"


class Action(StrEnum):
    """What can happen to a case: people's actions (CONTRACT §5) and linli's own."""

    OPEN = "open"  # linli: the first entry of every case (never a move of the table)
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    COMMENT = "comment"
    OCCUR = "occur"  # linli: the breach happened again
    ESCALATE = "escalate"  # linli: the schedule moved it one level up
    VERIFY = "verify"  # linli: the verification window passed without recurrence
    RECOVER = "recover"  # linli: the faulty sensor works again (device cases)
    TELL = "tell"  # linli: a delivery sent, or failed (never a move of the table)


HUMAN_ACTIONS: Final = frozenset(
    {Action.ACKNOWLEDGE, Action.START, Action.RESOLVE, Action.CLOSE, Action.REOPEN, Action.COMMENT}
)


class Level(StrEnum):
    """The ladder (docs/domain.md): merchant → grid worker → community → street enforcement."""

    MERCHANT = "merchant"
    GRID_WORKER = "grid_worker"
    COMMUNITY = "community"
    STREET = "street_enforcement"


LADDER: Final = (Level.MERCHANT, Level.GRID_WORKER, Level.COMMUNITY, Level.STREET)

_ACTIVE: Final = (CaseState.OPEN, CaseState.ACKNOWLEDGED, CaseState.IN_PROGRESS, CaseState.REOPENED)

# The lifecycle, in one place: (state, action) → state. Anything not here is illegal.
TRANSITIONS: Final[dict[tuple[CaseState, Action], CaseState]] = {
    (CaseState.OPEN, Action.ACKNOWLEDGE): CaseState.ACKNOWLEDGED,
    (CaseState.REOPENED, Action.ACKNOWLEDGE): CaseState.ACKNOWLEDGED,
    (CaseState.OPEN, Action.START): CaseState.IN_PROGRESS,
    (CaseState.ACKNOWLEDGED, Action.START): CaseState.IN_PROGRESS,
    (CaseState.REOPENED, Action.START): CaseState.IN_PROGRESS,
    **{(s, Action.RESOLVE): CaseState.RESOLVED for s in _ACTIVE},
    **{(s, Action.CLOSE): CaseState.CLOSED for s in _ACTIVE},  # e.g. a false alarm
    **{(s, Action.COMMENT): s for s in _ACTIVE},
    **{(s, Action.OCCUR): s for s in _ACTIVE},
    **{(s, Action.ESCALATE): s for s in _ACTIVE},
    **{(s, Action.RECOVER): CaseState.CLOSED for s in _ACTIVE},
    (CaseState.RESOLVED, Action.CLOSE): CaseState.CLOSED,
    (CaseState.RESOLVED, Action.VERIFY): CaseState.CLOSED,
    (CaseState.RESOLVED, Action.REOPEN): CaseState.REOPENED,
    (CaseState.RESOLVED, Action.OCCUR): CaseState.REOPENED,
    (CaseState.RESOLVED, Action.RECOVER): CaseState.CLOSED,
    (CaseState.RESOLVED, Action.COMMENT): CaseState.RESOLVED,
    (CaseState.CLOSED, Action.COMMENT): CaseState.CLOSED,  # the follow-up call (回访)
}


class IllegalTransition(ValueError):
    """An action that the case's state does not allow."""


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One change of a case: who, when, what, and a note (CONTRACT §5)."""

    at_ms: int
    actor: str
    action: Action
    from_state: CaseState
    to_state: CaseState
    level: Level
    note: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    """A governance case (工单); `id` is None until the store keeps it."""

    site: str
    grid: str
    rule: str
    kind: CaseKind
    sensor: str | None
    title: str
    opened_ms: int
    level: Level = Level.MERCHANT
    first_level: Level = Level.MERCHANT  # a site without a merchant starts at the grid worker
    state: CaseState = CaseState.OPEN
    updated_ms: int = 0
    acknowledged_ms: int | None = None
    resolved_ms: int | None = None
    closed_ms: int | None = None
    late: bool = False
    occurrences: int = 1
    id: int | None = None
    # residents' complaints on the case (rules/complaint.py: its priority rises with them)
    complaints: int = 0
    # a complaint's time limits by its source (CONTRACT §7): sign for by, handle by
    sign_by_ms: int | None = None
    handle_by_ms: int | None = None


def apply(
    case: Case, action: Action, at_ms: int, actor: str, note: str = ""
) -> tuple[Case, TimelineEntry]:
    """Move a case by one action; raises IllegalTransition if the table has no such move."""
    target = TRANSITIONS.get((case.state, action))
    if target is None:
        raise IllegalTransition(f"case {case.id}: cannot {action} a case that is {case.state}")
    changes: dict[str, object] = {"state": target, "updated_ms": at_ms}
    if action is Action.ACKNOWLEDGE:
        changes["acknowledged_ms"] = at_ms
    if target is CaseState.RESOLVED:
        changes["resolved_ms"] = at_ms
    if target is CaseState.CLOSED and case.state is not CaseState.CLOSED:
        changes["closed_ms"] = at_ms
    if target is CaseState.REOPENED:
        changes["resolved_ms"] = None
        changes["acknowledged_ms"] = None
    if action is Action.OCCUR:
        changes["occurrences"] = case.occurrences + 1
    if action is Action.ESCALATE:
        i = LADDER.index(case.level)
        if i + 1 >= len(LADDER):
            raise IllegalTransition(f"case {case.id}: already at {case.level}, the top")
        changes["level"] = LADDER[i + 1]
    changed = dataclasses.replace(case, **changes)  # type: ignore[arg-type]
    return changed, TimelineEntry(at_ms, actor, action, case.state, target, changed.level, note)


def open_case(case: Case, actor: str = "linli", note: str = "") -> tuple[Case, TimelineEntry]:
    """A new case at its first level, and the timeline entry that opens it."""
    opened = dataclasses.replace(
        case,
        state=CaseState.OPEN,
        level=case.first_level,
        updated_ms=case.opened_ms,
        occurrences=1,
    )
    entry = TimelineEntry(
        case.opened_ms, actor, Action.OPEN, CaseState.OPEN, CaseState.OPEN, opened.level, note
    )
    return opened, entry


def due_level(case: Case, escalation: Escalation, now_ms: int) -> Level:
    """The level a case should be at by now: one step per deadline missed, never lower."""
    if case.state in (CaseState.RESOLVED, CaseState.CLOSED):
        return case.level
    age_s = (now_ms - case.opened_ms) / 1000
    steps = 0
    if case.sign_by_ms is not None or case.handle_by_ms is not None:
        # a complaint's own time limits (its source's, rules/complaint.py) replace the
        # schedule: one step when not signed for in time, one when not handled in time
        if case.acknowledged_ms is None and case.sign_by_ms is not None:
            steps += now_ms >= case.sign_by_ms
        if case.handle_by_ms is not None:
            steps += now_ms >= case.handle_by_ms
    else:
        if case.acknowledged_ms is None and age_s >= escalation.unacknowledged_s:
            steps += 1
        steps += sum(1 for limit_s in escalation.unresolved_s if age_s >= limit_s)
    due = min(len(LADDER) - 1, LADDER.index(case.first_level) + steps)
    return LADDER[max(due, LADDER.index(case.level))]


def verification_due(case: Case, verification_s: int, now_ms: int) -> bool:
    """A resolved case whose verification window has passed without recurrence."""
    return (
        case.state is CaseState.RESOLVED
        and case.resolved_ms is not None
        and now_ms - case.resolved_ms >= verification_s * 1000
    )
