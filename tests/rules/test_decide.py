"""Deciding, pure: each kind of event on each state of its case, and the tick's ageing."""

from __future__ import annotations

import dataclasses

import pytest

from linli.rules.case import Action, Case, CaseKind, CaseState, Level
from linli.rules.engine.decide import ACTOR, Decision, age, decide
from linli.rules.events import Breach, Event, RuleId, Signal
from linli.rules.policy import Escalation, RulePolicy
from linli.rules.registry import Merchant, Site, SiteKind, Zone

MIN = 60_000
H = 60 * MIN
POLICY = RulePolicy()  # leq_window_s 600: an episode's window of 10 min
WINDOW = POLICY.leq_window_s * 1000
NOW = 30 * H
RESOLVED_AT = 20 * H

SHOP = Site("rest-1", "面馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=Merchant("周"))
HOME = Site("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1")

OPN, ACK, PRG, RES, REO, CLO = (
    CaseState.OPEN,
    CaseState.ACKNOWLEDGED,
    CaseState.IN_PROGRESS,
    CaseState.RESOLVED,
    CaseState.REOPENED,
    CaseState.CLOSED,
)
M, G, C, S = Level.MERCHANT, Level.GRID_WORKER, Level.COMMUNITY, Level.STREET


def breach(rule: RuleId = RuleId.NOISE_LEQ, end_ms: int = 19 * H, late: bool = False) -> Breach:
    """An episode of n-01 from 18:00 (its identity) to `end_ms`."""
    return Breach(rule, "hj-b1", "n-01", 18 * H, end_ms, 55.0, "dB(A)", None, "LAeq 55 > 50", late)


def event(signal: Signal, rule: RuleId = RuleId.NOISE_LEQ, **kw: object) -> Event:
    found = None if signal is Signal.RECOVER else breach(rule, **kw)  # type: ignore[arg-type]
    return Event(signal, rule, "hj-b1", "n-01", NOW, found)


def case(
    state: CaseState,
    rule: RuleId = RuleId.NOISE_LEQ,
    level: Level = M,
    resolved_ms: int | None = None,
) -> Case:
    """The (site, rule)'s case not closed, as the store's `active_case` gives it."""
    kind = CaseKind.BREACH if rule is RuleId.NOISE_LEQ else CaseKind.DEVICE
    if state is RES and resolved_ms is None:
        resolved_ms = RESOLVED_AT
    return Case(
        "hj-b1", "g1", rule.value, kind, "n-01", "t", opened_ms=0, level=level,
        state=state, resolved_ms=resolved_ms, id=7,
    )  # fmt: skip


PAST_RESOLUTION = RESOLVED_AT + WINDOW + MIN  # the episode grew a whole window past it
OFFLINE = RuleId.DEVICE_OFFLINE

# (event, case or None, site) → the transitions (action, from, to, level), whether the
# first opens a new case, the occurrence work ("add": a new episode's, "grow": its own)
DECISIONS = [
    pytest.param(event(Signal.BREACH), None, SHOP, [(Action.OPEN, OPN, OPN, M)], True, "add", id="breach, no case, site with merchant → opens at merchant level, occurrence added"),
    pytest.param(event(Signal.BREACH), None, HOME, [(Action.OPEN, OPN, OPN, G)], True, "add", id="breach, no case, site without merchant → opens at grid worker level"),
    pytest.param(event(Signal.BREACH, late=True), None, HOME, [(Action.OPEN, OPN, OPN, G)], True, "add", id="late breach, no case → opens as any breach does"),
    pytest.param(event(Signal.BREACH), case(OPN), HOME, [(Action.OCCUR, OPN, OPN, M)], False, "add", id="breach, open → one more occurrence, still open"),
    pytest.param(event(Signal.BREACH), case(ACK), HOME, [(Action.OCCUR, ACK, ACK, M)], False, "add", id="breach, acknowledged → one more occurrence, still acknowledged"),
    pytest.param(event(Signal.BREACH), case(PRG), HOME, [(Action.OCCUR, PRG, PRG, M)], False, "add", id="breach, in_progress → one more occurrence, still in_progress"),
    pytest.param(event(Signal.BREACH), case(RES), HOME, [(Action.OCCUR, RES, REO, M)], False, "add", id="breach, resolved → reopened with the new occurrence (verification window's recurrence)"),
    pytest.param(event(Signal.BREACH), case(REO), HOME, [(Action.OCCUR, REO, REO, M)], False, "add", id="breach, reopened → one more occurrence, still reopened"),
    pytest.param(event(Signal.BREACH), case(OPN, level=C), SHOP, [(Action.OCCUR, OPN, OPN, C)], False, "add", id="breach, case escalated to community → occurrence at the case's level, not the site's first"),
    pytest.param(event(Signal.BREACH, late=True), case(ACK), HOME, [(Action.OCCUR, ACK, ACK, M)], False, "add", id="late breach, acknowledged → one more occurrence"),
    pytest.param(event(Signal.EXTEND), None, HOME, [], False, None, id="extend, no case → nothing"),
    pytest.param(event(Signal.EXTEND), case(OPN), HOME, [], False, "grow", id="extend, open → its occurrence grows, no transition"),
    pytest.param(event(Signal.EXTEND), case(ACK), HOME, [], False, "grow", id="extend, acknowledged → its occurrence grows, no transition"),
    pytest.param(event(Signal.EXTEND), case(PRG), HOME, [], False, "grow", id="extend, in_progress → its occurrence grows, no transition"),
    pytest.param(event(Signal.EXTEND, end_ms=RESOLVED_AT + MIN), case(RES), HOME, [], False, "grow", id="extend, resolved, episode less than a window past resolution → grows, not reopened"),
    pytest.param(event(Signal.EXTEND, end_ms=RESOLVED_AT + WINDOW), case(RES), HOME, [], False, "grow", id="extend, resolved, episode exactly a window past resolution → grows, not reopened"),
    pytest.param(event(Signal.EXTEND, end_ms=PAST_RESOLUTION), case(RES), HOME, [(Action.REOPEN, RES, REO, M)], False, "grow", id="extend, resolved, episode a whole window past resolution → reopened, the same occurrence grows"),
    pytest.param(event(Signal.CLEAR), None, HOME, [], False, None, id="clear, no case → nothing"),
    pytest.param(event(Signal.CLEAR), case(OPN), HOME, [], False, "grow", id="clear, open → its occurrence takes its final extent, no transition"),
    pytest.param(event(Signal.CLEAR), case(PRG), HOME, [], False, "grow", id="clear, in_progress → final extent, linli never resolves a breach case"),
    pytest.param(event(Signal.CLEAR, end_ms=PAST_RESOLUTION), case(RES), HOME, [], False, "grow", id="clear, resolved, episode a whole window past resolution → final extent only, a clear never reopens"),
    pytest.param(event(Signal.FAULT, OFFLINE), None, SHOP, [(Action.OPEN, OPN, OPN, M)], True, "add", id="fault, no case → device case opens at merchant level"),
    pytest.param(event(Signal.FAULT, OFFLINE), None, HOME, [(Action.OPEN, OPN, OPN, G)], True, "add", id="fault, no case, site without merchant → device case opens at grid worker level"),
    pytest.param(event(Signal.FAULT, OFFLINE), case(OPN, OFFLINE), HOME, [(Action.OCCUR, OPN, OPN, M)], False, "add", id="fault, open device case → one more occurrence"),
    pytest.param(event(Signal.FAULT, OFFLINE), case(RES, OFFLINE), HOME, [(Action.OCCUR, RES, REO, M)], False, "add", id="fault, resolved device case → reopened"),
    pytest.param(event(Signal.RECOVER, OFFLINE), None, HOME, [], False, None, id="recover, no case → nothing"),
    pytest.param(event(Signal.RECOVER, OFFLINE), case(OPN, OFFLINE), HOME, [(Action.RECOVER, OPN, CLO, M)], False, None, id="recover, open device case → closed"),
    pytest.param(event(Signal.RECOVER, OFFLINE), case(ACK, OFFLINE, level=G), HOME, [(Action.RECOVER, ACK, CLO, G)], False, None, id="recover, acknowledged device case → closed at its level"),
    pytest.param(event(Signal.RECOVER, OFFLINE), case(PRG, OFFLINE), HOME, [(Action.RECOVER, PRG, CLO, M)], False, None, id="recover, in_progress device case → closed"),
    pytest.param(event(Signal.RECOVER, OFFLINE), case(RES, OFFLINE), HOME, [(Action.RECOVER, RES, CLO, M)], False, None, id="recover, resolved device case → closed without waiting for verification"),
]  # fmt: skip


def moves(decision: Decision) -> list[tuple[Action, CaseState, CaseState, Level]]:
    return [
        (c.entry.action, c.entry.from_state, c.entry.to_state, c.entry.level)
        for c in decision.changes
    ]


@pytest.mark.parametrize(("ev", "found", "site", "expected", "opens", "work"), DECISIONS)
def test_decide(ev, found, site, expected, opens, work):
    decision = decide(ev, found, site, POLICY, NOW)
    assert moves(decision) == expected
    assert decision.opens is opens
    assert decision.add_occurrence == (ev.breach if work == "add" else None)
    assert decision.grow_occurrence == (ev.breach if work == "grow" else None)
    for change in decision.changes:  # the case after each change says what its entry says
        assert (change.case.state, change.case.level) == (change.entry.to_state, change.entry.level)
        assert (change.entry.at_ms, change.entry.actor) == (NOW, ACTOR)
        assert change.case.id == (None if opens else 7)  # a new case gets its id from the store


OPENED = [
    pytest.param(event(Signal.BREACH), SHOP, "面馆: 噪声超标 noise over the limit", "LAeq 55 > 50", CaseKind.BREACH, False, id="breach → titled site: rule, the breach's summary noted"),
    pytest.param(event(Signal.BREACH, late=True), HOME, "红街公寓1幢: 噪声超标 noise over the limit [迟到数据 late data]", "LAeq 55 > 50 (late data 迟到数据)", CaseKind.BREACH, True, id="late breach → title and note marked late data, the case late"),
    pytest.param(event(Signal.BREACH, RuleId.NOISE_NIGHT_MAX), HOME, "红街公寓1幢: 夜间突发噪声 night noise peaks", "LAeq 55 > 50", CaseKind.BREACH, False, id="night peaks → its own title"),
    pytest.param(event(Signal.FAULT, OFFLINE), HOME, "红街公寓1幢: 设备离线 sensor offline", "LAeq 55 > 50", CaseKind.DEVICE, False, id="device fault → a device case titled by its rule"),
]  # fmt: skip


@pytest.mark.parametrize(("ev", "site", "title", "note", "kind", "late"), OPENED)
def test_an_opened_case_says_what_opened_it(ev, site, title, note, kind, late):
    ((opened, entry),) = ((c.case, c.entry) for c in decide(ev, None, site, POLICY, NOW).changes)
    assert (opened.title, entry.note, opened.kind, opened.late) == (title, note, kind, late)
    assert (opened.site, opened.grid, opened.rule, opened.sensor) == (
        site.id, "g1", ev.rule.value, "n-01",
    )  # fmt: skip
    assert (opened.opened_ms, opened.updated_ms, opened.occurrences) == (NOW, NOW, 1)


@pytest.mark.parametrize(
    ("ev", "note"),
    [
        pytest.param(event(Signal.BREACH), "LAeq 55 > 50", id="breach on a case → the summary noted"),
        pytest.param(event(Signal.BREACH, late=True), "LAeq 55 > 50 (late data 迟到数据)", id="late breach on a case → noted late data, the title unchanged"),
        pytest.param(event(Signal.EXTEND, end_ms=PAST_RESOLUTION), "still over the limit after it was resolved: LAeq 55 > 50", id="episode going on past resolution → noted still over"),
        pytest.param(event(Signal.RECOVER, OFFLINE), "sensor recovered", id="recover → noted sensor recovered"),
    ],
)  # fmt: skip
def test_a_changed_case_notes_why(ev, note):
    found = dataclasses.replace(case(RES, ev.rule), occurrences=2)
    ((changed, entry),) = ((c.case, c.entry) for c in decide(ev, found, HOME, POLICY, NOW).changes)
    assert entry.note == note
    assert changed.title == "t"
    assert changed.occurrences == (3 if ev.signal is Signal.BREACH else 2)


ESC = RulePolicy(escalation=Escalation(unacknowledged_s=1800, unresolved_s=(24 * 3600, 72 * 3600)))


def aged(state: CaseState, first: Level = M, level: Level | None = None, **kw: object) -> Case:
    """A case opened at 0 at its first level (or escalated to `level` already)."""
    c = dataclasses.replace(case(state), first_level=first, level=level or first)
    return dataclasses.replace(c, **kw)  # type: ignore[arg-type]


AGES = [
    pytest.param(aged(RES, resolved_ms=H), H + 24 * H, [(Action.VERIFY, RES, CLO, M)], id="resolved, verification window passed → closed (verified)"),
    pytest.param(aged(RES, resolved_ms=H), H + 24 * H - 1, [], id="resolved, verification window not yet passed → nothing"),
    pytest.param(aged(RES, resolved_ms=H), 100 * H, [(Action.VERIFY, RES, CLO, M)], id="resolved, past every escalation deadline → verified, never escalated"),
    pytest.param(aged(OPN), 30 * MIN - 1, [], id="open, just before the acknowledgement deadline → nothing"),
    pytest.param(aged(OPN), 30 * MIN, [(Action.ESCALATE, OPN, OPN, G)], id="open, not acknowledged in 30 min → one level up"),
    pytest.param(aged(OPN), 24 * H, [(Action.ESCALATE, OPN, OPN, G), (Action.ESCALATE, OPN, OPN, C)], id="open, 24 h unacknowledged and unresolved → two levels climbed, one transition each"),
    pytest.param(aged(OPN), 72 * H, [(Action.ESCALATE, OPN, OPN, G), (Action.ESCALATE, OPN, OPN, C), (Action.ESCALATE, OPN, OPN, S)], id="open, 72 h → three levels climbed to street enforcement"),
    pytest.param(aged(OPN, level=C), 24 * H, [], id="open, already at the level due → nothing"),
    pytest.param(aged(OPN, level=G), 24 * H, [(Action.ESCALATE, OPN, OPN, C)], id="open, one level up already, two due → one more"),
    pytest.param(aged(ACK, acknowledged_ms=MIN), 23 * H, [], id="acknowledged in time, not 24 h old → nothing"),
    pytest.param(aged(ACK, acknowledged_ms=MIN), 24 * H, [(Action.ESCALATE, ACK, ACK, G)], id="acknowledged, unresolved 24 h → one level up"),
    pytest.param(aged(PRG, acknowledged_ms=MIN), 72 * H, [(Action.ESCALATE, PRG, PRG, G), (Action.ESCALATE, PRG, PRG, C)], id="in_progress, unresolved 72 h → two levels climbed"),
    pytest.param(aged(OPN, first=G), 30 * MIN, [(Action.ESCALATE, OPN, OPN, C)], id="open at grid worker (no merchant), not acknowledged → community"),
    pytest.param(aged(OPN, first=G), 100 * H, [(Action.ESCALATE, OPN, OPN, C), (Action.ESCALATE, OPN, OPN, S)], id="open at grid worker, every deadline missed → stops at street enforcement, the top"),
    pytest.param(aged(REO), 30 * MIN, [(Action.ESCALATE, REO, REO, G)], id="reopened, not acknowledged → one level up"),
]  # fmt: skip


@pytest.mark.parametrize(("found", "now_ms", "expected"), AGES)
def test_age(found, now_ms, expected):
    decision = age(found, ESC, now_ms)
    assert moves(decision) == expected
    assert not decision.opens
    assert (decision.add_occurrence, decision.grow_occurrence) == (None, None)
    before = found
    for change in decision.changes:  # each escalation starts where the one before ended
        assert change.entry.from_state is before.state
        assert (change.entry.at_ms, change.entry.actor, change.case.id) == (now_ms, ACTOR, 7)
        before = change.case


def test_escalations_note_the_level_aimed_at():
    notes = [c.entry.note for c in age(aged(OPN), ESC, 72 * H).changes]
    assert notes == ["escalated to street_enforcement"] * 3
    assert age(aged(RES, resolved_ms=0), ESC, 24 * H).changes[0].entry.note == "no recurrence"
