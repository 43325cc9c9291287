"""What a message about a case says (CONTRACT §6), rendered in zh-CN, pure.

Every message names the site, the rule, the measured value against the limit with its
standard and clause, the local time window, what is expected of its reader, and the
link to the case. What a person wrote (the site's name, a note, the case's title with
its site) is put in as `escape.markdown` makes it: one line, bounded, no markup of its
own (the SMS parameters: `escape.plain`). A digest (many cases for one recipient within
a short wait) lists each case with its own line and link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from linli.rules import escape
from linli.rules.case import Case, Level
from linli.rules.delivery import Delivery
from linli.rules.routing import Event

LEVEL_NAMES: Final = {
    Level.MERCHANT: "商户",
    Level.GRID_WORKER: "网格员",
    Level.COMMUNITY: "社区",
    Level.STREET: "街道执法队",
}

HEADLINES: Final = {
    Event.OPENED: "新工单",
    Event.ESCALATED: "工单升级",
    Event.ACKNOWLEDGED: "工单已签收",
    Event.IN_PROGRESS: "工单处置中",
    Event.RESOLVED: "工单已办结",
    Event.REOPENED: "工单重新打开",
    Event.CLOSED: "工单已结案",
    Event.REMINDER: "工单催办",
}

# What the reader of an opened, escalated, reopened or reminded case is asked to do.
EXPECTED: Final = {
    Level.MERCHANT: "请立即检查并整改（如开启油烟净化器、降低音量），整改后在工单中签收并回复。",
    Level.GRID_WORKER: "请到场核查，督促商户整改，并在工单中签收、记录处置情况。",
    Level.COMMUNITY: "请社区协调处置，并在工单中签收。",
    Level.STREET: "请街道执法队依法处置，并在工单中签收。",
}
FOR_INFORMATION: Final = "仅供知悉，无需操作。"
ASKS: Final = frozenset({Event.OPENED, Event.ESCALATED, Event.REOPENED, Event.REMINDER})

SMS_TEXT_CHARS: Final = 35  # an Aliyun template variable: at most 35 characters


@dataclass(frozen=True, slots=True)
class Facts:
    """What one message is about: the case after the change and its latest evidence."""

    event: Event
    case: Case
    site_name: str
    link: str
    tz: ZoneInfo
    measured: float | None = None
    unit: str = ""
    limit: float | None = None
    standard: str | None = None  # "GB 22337-2008"
    clause: str | None = None  # its clause in Chinese
    window: tuple[int, int] | None = None  # the episode, epoch ms
    who_did_not_act: str | None = None  # an escalation: the level below, and since when
    note: str = ""  # the timeline entry's note (a resolution's, a reopen's)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message as its readers read it."""

    title: str
    text: str  # markdown
    sms: dict[str, str]  # the SMS template's parameters: strings, each short


def local(ts_ms: int, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    """A time as the community reads it."""
    return datetime.fromtimestamp(ts_ms / 1000, tz).strftime(fmt)


def measured_line(f: Facts) -> str | None:
    """ "测得 64.0 dB(A)，限值 55 dB(A)（GB 22337-2008 表1）" or None without evidence."""
    if f.measured is None:
        return None
    digits = 1 if f.unit.startswith("dB") else 2  # dB(A) to 0.1, mg/m³ to 0.01
    text = f"测得 {f.measured:.{digits}f} {f.unit}".rstrip()
    if f.limit is not None:
        text += f"，限值 {f.limit:g} {f.unit}".rstrip()
    # a clause may name its standard already ("GB 22337-2008 表1 …"): not twice
    repeated = f.standard and f.clause and f.clause.startswith(f.standard)
    source = f.clause if repeated else " ".join(p for p in (f.standard, f.clause) if p)
    return text + (f"（{source}）" if source else "")


def window_line(f: Facts) -> str | None:
    """ "时段 11-30 22:40–23:10" (the same day) or with both dates."""
    if f.window is None:
        return None
    start, end = f.window
    first = local(start, f.tz)
    same_day = local(start, f.tz, "%m-%d") == local(end, f.tz, "%m-%d")
    last = local(end, f.tz, "%H:%M" if same_day else "%m-%d %H:%M")
    return f"时段 {first}–{last}"


def render(f: Facts) -> Rendered:
    """The message for one event of one case."""
    case = f.case
    headline = HEADLINES[f.event]
    title = f"【{headline}】{escape.markdown(case.title)}"
    # The title and the link are the channel's frame (a card's heading, an e-mail's
    # subject, the link as the channel shows one): not repeated in the text.
    lines = [f"- 地点：{escape.markdown(f.site_name)}", f"- 工单：#{case.id}，{_state(case)}"]
    for extra in (measured_line(f), window_line(f)):
        if extra:
            lines.append(f"- {extra}")
    if f.who_did_not_act:
        lines.append(f"- {f.who_did_not_act}")
    if f.note:
        lines.append(f"- 备注：{escape.markdown(f.note)}")
    asked = EXPECTED[case.level] if f.event in ASKS else FOR_INFORMATION
    lines.append(f"- {asked}")
    what = measured_line(f) or escape.plain(case.title)
    sms = {  # the template's variables (Aliyun: strings, each at most 35 characters)
        "event": headline,
        "site": _short(escape.plain(f.site_name)),
        "rule": _short(f"{headline}：{what}"),
        "case": str(case.id),
        "what": _short(what),
        "link": f.link,
    }
    return Rendered(title, "\n".join(lines), sms)


@dataclass(frozen=True, slots=True)
class Digest:
    """Several deliveries for one recipient as one message."""

    key: str
    event: str
    title: str
    text: str
    link: str
    sms: dict[str, str]


def digest(items: Sequence[Delivery]) -> Digest:
    """One message naming several cases, each with its title and link (many
    cases of one group within a short wait become one message; none is dropped)."""
    title = f"【{len(items)} 件工单】{escape.markdown(items[0].who)}"
    # Each case's own link without its token (a signed link is ~200 characters: 100 of
    # them would not fit a robot's 20 KB); the message's link (the first case's, signed)
    # signs the reader in, and the others open from there.
    lines = [f"- {d.title} [#{d.case_id}]({d.link.split('?', 1)[0]})" for d in items]
    asks = any(d.event in ASKS for d in items)
    signed = "?t=" in items[0].link
    hint = "请点「查看工单」登录后逐一签收并处理。" if signed else "请逐一打开工单，签收并处理。"
    lines += ["", hint if asks else FOR_INFORMATION]
    sms = {
        "event": f"{len(items)} 件工单",
        "site": _short(escape.plain(items[0].who)),
        "case": _short(",".join(str(d.case_id) for d in items)),
        "what": "请打开工单查看",
        "rule": _short(f"{len(items)} 件工单，请打开工单查看"),
        "link": items[0].link,
    }
    key = "+".join(d.key for d in items)
    return Digest(key, items[0].event, title, "\n".join(lines), items[0].link, sms)


def _state(case: Case) -> str:
    return f"当前级别：{LEVEL_NAMES[case.level]}"


def _short(text: str) -> str:
    return text if len(text) <= SMS_TEXT_CHARS else text[: SMS_TEXT_CHARS - 1] + "…"
