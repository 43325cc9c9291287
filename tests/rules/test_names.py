"""One name per rule and per state (rules/names.py), and the titles, messages and pages
that show a rule all call it by it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from linli.rules.case import CaseState
from linli.rules.complaint import Deadline, complaint_case
from linli.rules.engine.decide import decide
from linli.rules.events import DEVICE_RULES, RuleId, Signal, complaint_rule
from linli.rules.messages import Facts, render
from linli.rules.names import RULE_NAMES, STATE_NAMES, rule_name
from linli.rules.reading import SensorKind
from linli.rules.routing import Event as Told
from tests.rules.test_decide import HOME, NOW, POLICY, event

TZ = ZoneInfo("Asia/Shanghai")
EVERY_RULE = [*RuleId, *(complaint_rule(k) for k in SensorKind)]


@pytest.mark.parametrize("rule", EVERY_RULE, ids=str)
def test_every_rule_has_a_name(rule):
    assert rule_name(rule) == RULE_NAMES[rule].zh
    assert RULE_NAMES[rule].zh and RULE_NAMES[rule].en
    assert rule_name(rule) != rule  # never the raw id (the overview showed complaint_noise)


@pytest.mark.parametrize("state", list(CaseState), ids=str)
def test_every_state_has_a_name(state):
    assert STATE_NAMES[state]


def test_no_two_rules_share_a_name():
    names = [n.zh for n in RULE_NAMES.values()]
    assert len(set(names)) == len(names) == len(EVERY_RULE)


def test_an_unknown_rule_is_shown_as_it_is():
    assert rule_name("some_future_rule") == "some_future_rule"


@pytest.mark.parametrize("rule", list(RuleId), ids=str)
def test_a_case_title_and_its_message_call_the_rule_by_its_name(rule):
    signal = Signal.FAULT if rule in DEVICE_RULES else Signal.BREACH
    (change,) = decide(event(signal, rule), None, HOME, POLICY, NOW).changes
    name = RULE_NAMES[rule]
    assert change.case.title == f"红街公寓1幢: {name.zh} {name.en}"
    facts = Facts(Told.OPENED, change.case, HOME.name, "http://x/board/cases/7", TZ)
    assert f"{name.zh} {name.en}" in render(facts).title


@pytest.mark.parametrize("kind", list(SensorKind), ids=str)
def test_a_complaint_case_is_titled_by_its_rule_name(kind):
    case = complaint_case(HOME, kind, None, NOW, Deadline(), "Asia/Shanghai")
    name = RULE_NAMES[complaint_rule(kind)]
    assert case.title == f"红街公寓1幢: {name.zh} {name.en}"
