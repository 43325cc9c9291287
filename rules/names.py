"""What people call linli's rules and a case's states, in zh-CN: the one table.

A case's title (decide.py and complaint.py build it: the messages, the timeline and
Grafana's case annotations show it) and the board's pages (rule_name, STATE_NAMES) all
read these, so a rule is called the same everywhere. Titles add the English gloss.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from linli.rules.case import CaseState
from linli.rules.events import RuleId, complaint_rule
from linli.rules.reading import SensorKind


@dataclass(frozen=True, slots=True)
class RuleName:
    """A rule as people call it (`zh`), and the English gloss a case's title adds."""

    zh: str
    en: str

    def title(self) -> str:
        """ "噪声超标 noise over the limit": what follows the site in a case's title."""
        return f"{self.zh} {self.en}"


RULE_NAMES: Final[Mapping[str, RuleName]] = {
    RuleId.NOISE_LEQ: RuleName("噪声超标", "noise over the limit"),
    RuleId.NOISE_NIGHT_MAX: RuleName("夜间突发噪声", "night noise peaks"),
    RuleId.FUME_CONC: RuleName("油烟超标", "cooking fume over the limit"),
    RuleId.PURIFIER_OFF: RuleName("净化器未开启", "purifier off while cooking"),
    RuleId.DEVICE_OFFLINE: RuleName("设备离线", "sensor offline"),
    RuleId.DEVICE_STUCK: RuleName("设备读数卡滞", "sensor stuck"),
    RuleId.DEVICE_IMPLAUSIBLE: RuleName("设备读数异常", "implausible readings"),
    # a resident's complaint with no open case of its kind at the site (rules/complaint.py)
    complaint_rule(SensorKind.NOISE): RuleName("居民投诉 噪声扰民", "resident complaint (noise)"),
    complaint_rule(SensorKind.FUME): RuleName("居民投诉 油烟扰民", "resident complaint (fume)"),
}

STATE_NAMES: Final[Mapping[CaseState, str]] = {
    CaseState.OPEN: "待签收",
    CaseState.ACKNOWLEDGED: "已签收",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.RESOLVED: "已办结",
    CaseState.REOPENED: "重新打开",
    CaseState.CLOSED: "已结案",
}


def rule_name(rule: str) -> str:
    """A rule as people call it; an id this linli does not know, as it is."""
    name = RULE_NAMES.get(rule)
    return name.zh if name else rule


def rule_title(rule: str) -> str:
    """The rule's part of a case title: "噪声超标 noise over the limit"."""
    return RULE_NAMES[rule].title()
