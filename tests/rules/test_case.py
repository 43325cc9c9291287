"""The case lifecycle: one row per transition of the table, illegal moves, escalation."""

from __future__ import annotations

import dataclasses

import pytest

from linli.rules.case import (
    TRANSITIONS,
    Action,
    Case,
    CaseKind,
    CaseState,
    IllegalTransition,
    Level,
    apply,
    due_level,
    verification_due,
)
from linli.rules.policy import Escalation

OPN, A, P, R, RO, C = (
    CaseState.OPEN,
    CaseState.ACKNOWLEDGED,
    CaseState.IN_PROGRESS,
    CaseState.RESOLVED,
    CaseState.REOPENED,
    CaseState.CLOSED,
)
CASE = Case("ktv-1", "g2", "noise_leq", CaseKind.BREACH, "n-ktv-01", "夜间噪声", opened_ms=0, id=7)

MOVES = [
    pytest.param(OPN, Action.ACKNOWLEDGE, A, id="open + acknowledge → acknowledged"),
    pytest.param(A, Action.START, P, id="acknowledged + start → in_progress"),
    pytest.param(
        OPN, Action.START, P, id="open + start → in_progress (signed and handled at once)"
    ),
    pytest.param(P, Action.RESOLVE, R, id="in_progress + resolve → resolved"),
    pytest.param(R, Action.VERIFY, C, id="verification window passes → closed"),
    pytest.param(R, Action.OCCUR, RO, id="breach during verification → reopened"),
    pytest.param(R, Action.REOPEN, RO, id="resolved + reopen by a person → reopened"),
    pytest.param(R, Action.CLOSE, C, id="resolved + close → closed"),
    pytest.param(RO, Action.ACKNOWLEDGE, A, id="reopened + acknowledge → acknowledged"),
    pytest.param(P, Action.OCCUR, P, id="breach while in progress → occurrence, same state"),
    pytest.param(OPN, Action.ESCALATE, OPN, id="escalate keeps the state"),
    pytest.param(A, Action.RECOVER, C, id="device recovers → device case closed"),
    pytest.param(C, Action.COMMENT, C, id="comment on a closed case (follow-up call)"),
]


@pytest.mark.parametrize(("state", "action", "target"), MOVES)
def test_transition(state, action, target):
    case = dataclasses.replace(CASE, state=state)
    moved, entry = apply(case, action, 1000, "王丽", "note")
    assert moved.state is target
    assert (
        entry.at_ms,
        entry.actor,
        entry.action,
        entry.from_state,
        entry.to_state,
        entry.note,
    ) == (
        1000,
        "王丽",
        action,
        state,
        target,
        "note",
    )


ILLEGAL = [
    pytest.param(C, Action.REOPEN, id="closed + reopen → illegal: a new breach opens a new case"),
    pytest.param(C, Action.OCCUR, id="closed + occur → illegal"),
    pytest.param(OPN, Action.VERIFY, id="open + verify → illegal"),
    pytest.param(A, Action.ACKNOWLEDGE, id="acknowledged twice → illegal"),
    pytest.param(R, Action.START, id="resolved + start → illegal"),
    pytest.param(OPN, Action.REOPEN, id="open + reopen → illegal"),
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_illegal_moves_raise(state, action):
    with pytest.raises(IllegalTransition):
        apply(dataclasses.replace(CASE, state=state), action, 0, "x")


def test_every_state_is_reachable_from_the_table():
    targets = {t for t in TRANSITIONS.values()} | {CaseState.OPEN}
    assert targets == set(CaseState)


def test_dates_and_occurrences_follow_the_moves():
    case, _ = apply(CASE, Action.ACKNOWLEDGE, 10, "a")
    case, _ = apply(case, Action.RESOLVE, 20, "a")
    assert (case.acknowledged_ms, case.resolved_ms) == (10, 20)
    case, _ = apply(case, Action.OCCUR, 30, "linli")
    assert (case.state, case.resolved_ms, case.acknowledged_ms, case.occurrences) == (
        RO,
        None,
        None,
        2,
    )
    case, _ = apply(case, Action.CLOSE, 40, "a")
    assert case.closed_ms == 40


H = 3_600_000
ESC = Escalation(unacknowledged_s=1800, unresolved_s=(24 * 3600, 72 * 3600))

LEVELS = [
    pytest.param(OPN, None, 29 * 60_000, Level.MERCHANT, id="29 min unacknowledged → merchant"),
    pytest.param(
        OPN, None, 30 * 60_000, Level.GRID_WORKER, id="30 min unacknowledged → grid worker"
    ),
    pytest.param(A, 60_000, 23 * H, Level.MERCHANT, id="acknowledged, 23 h → merchant"),
    pytest.param(
        A, 60_000, 24 * H, Level.GRID_WORKER, id="acknowledged, unresolved 24 h → grid worker"
    ),
    pytest.param(OPN, None, 24 * H, Level.COMMUNITY, id="never acknowledged, 24 h → community"),
    pytest.param(
        OPN, None, 72 * H, Level.STREET, id="never acknowledged, 72 h → street enforcement"
    ),
    pytest.param(R, 60_000, 72 * H, Level.MERCHANT, id="resolved cases do not escalate"),
]


@pytest.mark.parametrize(("state", "acked", "now", "level"), LEVELS)
def test_escalation_schedule(state, acked, now, level):
    case = dataclasses.replace(CASE, state=state, acknowledged_ms=acked)
    assert due_level(case, ESC, now) is level


def test_a_residential_case_starts_at_the_grid_worker():
    case = dataclasses.replace(CASE, level=Level.GRID_WORKER, first_level=Level.GRID_WORKER)
    assert due_level(case, ESC, 30 * 60_000) is Level.COMMUNITY


def test_escalate_climbs_one_rung_and_stops_at_the_top():
    case, entry = apply(CASE, Action.ESCALATE, 5, "linli")
    assert (case.level, entry.level) == (Level.GRID_WORKER, Level.GRID_WORKER)
    with pytest.raises(IllegalTransition):
        apply(dataclasses.replace(CASE, level=Level.STREET), Action.ESCALATE, 5, "linli")


@pytest.mark.parametrize(
    ("elapsed_h", "due"),
    [
        pytest.param(23.99, False, id="verification: 23.99 h after resolve → still waiting"),
        pytest.param(24, True, id="verification: 24 h → close"),
    ],
)
def test_verification_window(elapsed_h, due):
    case = dataclasses.replace(CASE, state=R, resolved_ms=0)
    assert verification_due(case, 24 * 3600, int(elapsed_h * H)) is due
