"""Deciding, pure: a judge event and its case (or none) → the case changes (STYLE §5–7).

`decide` turns one event of rules/judge.py into a `Decision`: the case's transitions by
the lifecycle table (rules/case.py), in order, and the occurrence work on its episode.
`age` is the tick's half: a resolved case whose verification window passed is closed, an
unresolved one climbs the escalation ladder on schedule. Neither touches the store: the
engine (rules/engine/engine.py) applies the decision in its transaction, records the
evidence (rules/engine/evidence.py) and tells.

An occurrence is an episode (rules/breaches.py), identified by (case, sensor, window
start): its BREACH opens the case or adds it, with a timeline entry; its EXTEND and CLEAR
only grow its window, worst value and evidence snapshot, with no timeline entry. Breach
cases are resolved by people, never by linli: a CLEAR changes no case state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from linli.rules.case import (
    Action,
    Case,
    CaseKind,
    CaseState,
    Level,
    TimelineEntry,
    apply,
    due_level,
    open_case,
    verification_due,
)
from linli.rules.events import DEVICE_RULES, Breach, Event, Signal
from linli.rules.names import rule_title
from linli.rules.policy import RulePolicy
from linli.rules.registry import Site

ACTOR: Final = "linli"

LATE_NOTE: Final = " (late data 迟到数据)"  # on the timeline entry of a late breach
LATE_TITLE: Final = " [迟到数据 late data]"  # on the title of a case a late breach opened


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One change of a case: the case after it and its timeline entry (what is told)."""

    case: Case
    entry: TimelineEntry


@dataclass(frozen=True, slots=True)
class Decision:
    """What one event (or one tick) does to its case; nothing at all by default.

    `changes` are the case's transitions in order, each the case after it with its
    timeline entry. `opens`: the first change opens a new case (its `id` is None: insert
    it). `add_occurrence`: a new episode's breach, recorded on the case with its
    evidence. `grow_occurrence`: an episode's occurrence takes this extent (EXTEND, CLEAR).
    """

    changes: tuple[CaseChange, ...] = ()
    opens: bool = False
    add_occurrence: Breach | None = None
    grow_occurrence: Breach | None = None


NOTHING: Final = Decision()


def decide(
    event: Event, case: Case | None, site: Site, policy: RulePolicy, now_ms: int
) -> Decision:
    """One judge event on its (site, rule)'s case not closed (`case`, or None): open the
    case, add an occurrence (reopening a resolved case), grow an episode, or recover."""
    if event.signal is Signal.EXTEND or event.signal is Signal.CLEAR:
        if case is None or event.breach is None:
            return NOTHING
        if event.signal is Signal.CLEAR:
            return Decision(grow_occurrence=event.breach)
        return Decision(
            still_over(case, event.breach, policy, now_ms), grow_occurrence=event.breach
        )
    if event.signal is Signal.RECOVER:
        if case is None:
            return NOTHING
        return Decision((_move(case, Action.RECOVER, now_ms, "sensor recovered"),))
    breach = event.breach  # BREACH, FAULT
    assert breach is not None
    note = breach.summary + (LATE_NOTE if breach.late else "")
    if case is None:
        opened, entry = open_case(new_case(event, breach, site, now_ms), ACTOR, note)
        return Decision((CaseChange(opened, entry),), opens=True, add_occurrence=breach)
    return Decision((_move(case, Action.OCCUR, now_ms, note),), add_occurrence=breach)


def new_case(event: Event, breach: Breach, site: Site, now_ms: int) -> Case:
    """The case a site's first breach of a rule opens: at the merchant if it has one."""
    late = LATE_TITLE if breach.late else ""
    return Case(
        site=site.id,
        grid=site.grid,
        rule=event.rule.value,
        kind=CaseKind.DEVICE if event.rule in DEVICE_RULES else CaseKind.BREACH,
        sensor=breach.sensor,
        title=f"{site.name}: {rule_title(event.rule)}{late}",
        opened_ms=now_ms,
        first_level=Level.MERCHANT if site.merchant is not None else Level.GRID_WORKER,
        late=breach.late,
    )


def still_over(
    case: Case, breach: Breach, policy: RulePolicy, now_ms: int
) -> tuple[CaseChange, ...]:
    """A resolved case whose episode goes on past the resolution: it recurred (reopened).

    The episode still grows a whole rule window after the case was resolved (so not
    merely a rolling window that still holds the loud minutes before it): the fix did
    not hold, the verification window's recurrence, as a new episode's breach would be.
    """
    window_ms = policy.episode_window_s(breach.rule) * 1000
    if (
        case.state is not CaseState.RESOLVED
        or case.resolved_ms is None
        or breach.end_ms - window_ms <= case.resolved_ms
    ):
        return ()
    note = f"still over the limit after it was resolved: {breach.summary}"
    return (_move(case, Action.REOPEN, now_ms, note),)  # the same occurrence


def age(case: Case, policy: RulePolicy, now_ms: int) -> Decision:
    """A case not closed, at the tick: verified (closed) once its verification window
    passed without recurrence, else one escalation per level it is due to climb."""
    if verification_due(case, policy.verification_s, now_ms):
        return Decision((_move(case, Action.VERIFY, now_ms, "no recurrence"),))
    target = due_level(case, policy.escalation, now_ms)
    changes: list[CaseChange] = []
    while case.level is not target:
        change = _move(case, Action.ESCALATE, now_ms, f"escalated to {target}")
        changes.append(change)
        case = change.case
    return Decision(tuple(changes)) if changes else NOTHING


def _move(case: Case, action: Action, now_ms: int, note: str) -> CaseChange:
    moved, entry = apply(case, action, now_ms, ACTOR, note)
    return CaseChange(moved, entry)
