"""Governance statistics (CONTRACT §10): each case against its deadlines, figures by hand."""

from __future__ import annotations

import dataclasses

import pytest

from linli.rules.case import CaseState
from linli.rules.policy import Escalation
from linli.rules.stats import CaseFacts, GroupBy, deadlines_of, figures, group_figures, total

MIN = 60_000
H = 3_600_000
T0 = 1_761_955_200_000  # 2025-11-01 08:00 +08:00

# the default schedule: sign for within 30 min, handle within 24 h
DEFAULT = Escalation()
# another community's: sign for within 10 min, handle within 2 h
STRICT = Escalation(unacknowledged_s=600, unresolved_s=(7200, 86400))


def case(n: int, **kw: object) -> CaseFacts:
    base = CaseFacts(
        id=n,
        community="tianxin",
        grid="g1",
        site="rest-1",
        rule="fume_conc",
        opened_ms=T0,
        state=CaseState.OPEN,
        taken_ms=None,
        resolved_ms=None,
        reopened=False,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def escalation_of(community: str) -> Escalation:
    return STRICT if community == "strict" else DEFAULT


NOW = T0 + 30 * 24 * H


@pytest.mark.parametrize(
    ("facts", "acked", "ack_in_time", "resolved", "resolved_in_time"),
    [
        pytest.param(case(1), 0, 0, 0, 0, id="open, never signed for → neither"),
        pytest.param(case(1, taken_ms=T0 + 29 * MIN), 1, 1, 0, 0, id="signed at 29 min → in time"),
        pytest.param(
            case(1, taken_ms=T0 + 30 * MIN), 1, 0, 0, 0,
            id="signed at 30 min, when the schedule escalates → late",
        ),
        pytest.param(
            case(1, community="strict", taken_ms=T0 + 11 * MIN), 1, 0, 0, 0,
            id="11 min under a 10-min schedule → late (the case's community decides)",
        ),
        pytest.param(
            case(1, taken_ms=T0 + MIN, resolved_ms=T0 + 23 * H, state=CaseState.RESOLVED),
            1, 1, 1, 1, id="resolved within the first unresolved step → in time",
        ),
        pytest.param(
            case(1, taken_ms=T0 + MIN, resolved_ms=T0 + 25 * H, state=CaseState.CLOSED),
            1, 1, 1, 0, id="resolved after 24 h → late",
        ),
        pytest.param(
            case(1, taken_ms=T0 + 3 * H, sign_by_ms=T0 + 4 * H, handle_by_ms=T0 + 100 * H,
                 resolved_ms=T0 + 99 * H, state=CaseState.RESOLVED),
            1, 1, 1, 1, id="a 12345 case by its own limits, not the schedule's 30 min",
        ),
        pytest.param(
            case(1, taken_ms=T0 + MIN, sign_by_ms=T0 + 2 * H, handle_by_ms=T0 + 50 * H,
                 resolved_ms=T0 + 51 * H, state=CaseState.RESOLVED),
            1, 1, 1, 0, id="a 12345 case handled after its handle-by → late",
        ),
    ],
)  # fmt: skip
def test_in_time(facts, acked, ack_in_time, resolved, resolved_in_time):
    f = figures("x", [facts], escalation_of, NOW)
    assert (f.acknowledged, f.acknowledged_in_time, f.resolved, f.resolved_in_time) == (
        acked, ack_in_time, resolved, resolved_in_time,
    )  # fmt: skip


def test_deadlines_of_schedule_and_complaint():
    assert deadlines_of(case(1), DEFAULT) == (T0 + 30 * MIN, T0 + 24 * H)
    assert deadlines_of(case(1), STRICT) == (T0 + 10 * MIN, T0 + 2 * H)
    assert deadlines_of(case(1), Escalation(unresolved_s=())) == (T0 + 30 * MIN, None)
    own = case(1, sign_by_ms=T0 + 2 * H, handle_by_ms=T0 + 120 * H)
    assert deadlines_of(own, STRICT) == (T0 + 2 * H, T0 + 120 * H)


def test_a_month_by_hand():
    """Six cases of two grids, figures counted by hand."""
    cases = [
        # g1: signed 5 min, resolved 2 h, closed; 2 complaints, both rated, 1 satisfied
        case(1, taken_ms=T0 + 5 * MIN, resolved_ms=T0 + 2 * H, state=CaseState.CLOSED,
             complaints=2, followups=2, satisfied=1),
        # g1: signed 40 min (late), resolved 30 h (late), reopened and resolved again
        case(2, taken_ms=T0 + 40 * MIN, resolved_ms=T0 + 30 * H, state=CaseState.RESOLVED,
             reopened=True),
        # g1: signed 10 min, reopened, not resolved again
        case(3, taken_ms=T0 + 10 * MIN, state=CaseState.REOPENED, reopened=True,
             complaints=1, followups=1, satisfied=0),
        # g2: closed straight away as a false alarm (taken at 1 min, never resolved)
        case(4, grid="g2", taken_ms=T0 + MIN, state=CaseState.CLOSED),
        # g2: never touched
        case(5, grid="g2"),
        # g2: opened ten minutes before now: not signed for, and not due yet
        case(6, grid="g2", opened_ms=NOW - 10 * MIN),
    ]  # fmt: skip
    g1, g2 = group_figures(cases, GroupBy.GRID, escalation_of, NOW)
    assert g1.group == "g1"
    assert (g1.opened, g1.acknowledged, g1.acknowledged_in_time) == (3, 3, 2)
    assert (g1.resolved, g1.resolved_in_time, g1.closed, g1.reopened) == (2, 1, 1, 2)
    assert g1.median_ack_s == 600.0  # 5, 10, 40 min
    assert (g1.complaints, g1.followups, g1.followups_satisfied) == (3, 3, 1)
    assert g1.ack_in_time_rate == pytest.approx(2 / 3)
    assert g1.resolved_in_time_rate == pytest.approx(1 / 3)
    assert (g1.closure_rate, g1.reopen_rate) == (pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert g1.satisfaction_rate == pytest.approx(1 / 3)

    assert g2.group == "g2"
    assert (g2.opened, g2.acknowledged, g2.acknowledged_in_time) == (3, 1, 1)
    assert (g2.resolved, g2.resolved_in_time, g2.closed, g2.reopened) == (0, 0, 1, 0)
    assert g2.median_ack_s == 60.0
    # case 6 is not yet due: 1 of the 2 due signed for in time, 0 of 2 handled in time
    assert (g2.ack_due, g2.resolve_due) == (2, 2)
    assert g2.ack_in_time_rate == 0.5
    assert g2.resolved_in_time_rate == 0.0
    assert g2.satisfaction_rate is None  # no follow-up: no rate, not 0

    everything = total(cases, escalation_of, NOW)
    assert (everything.opened, everything.acknowledged, everything.closed) == (6, 4, 2)
    # the median of the four waits (1, 5, 10, 40 min), not of the groups' medians
    assert everything.median_ack_s == 450.0


@pytest.mark.parametrize(
    ("by", "groups", "opened"),
    [
        (GroupBy.COMMUNITY, ["strict", "tianxin"], [1, 2]),
        (GroupBy.GRID, ["g1", "g2"], [2, 1]),
        (GroupBy.SITE, ["ktv-1", "rest-1"], [1, 2]),
        (GroupBy.RULE, ["fume_conc", "noise_leq"], [2, 1]),
    ],
)
def test_grouped_by(by, groups, opened):
    cases = [
        case(1, community="strict", grid="g2", site="ktv-1", rule="noise_leq"),
        case(2),
        case(3),
    ]
    found = group_figures(cases, by, escalation_of, NOW)
    assert [f.group for f in found] == groups
    assert [f.opened for f in found] == opened


def test_nothing_opened_gives_no_rates():
    f = total([], escalation_of, NOW)
    assert f.opened == 0
    assert f.median_ack_s is None
    assert (f.ack_in_time_rate, f.closure_rate, f.reopen_rate) == (None, None, None)
