"""A community's monthly statistics message (CONTRACT §10 `[[report]]`): when, what, pure.

On the 1st at 09:00 local the last month's figures (rules/stats.py) go to the report's
channels with a signed link to the board's statistics page. "Exactly once" is the
outbox's unique key: one per (community, report, month, channel), so two ticks at 09:00
or a restart write the same keys again and the store keeps the first (linli/monthly.py).
The message is a rendering of the same figures as the API and the board, in zh-CN, and
says nothing about a resident: counts and rates only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from linli.rules import escape
from linli.rules.messages import Rendered
from linli.rules.stats import Figures, percent

SEND_HOUR: Final = 9  # 09:00 local on the 1st
# linli down at 09:00 on the 1st: the message goes when it is back, within the first week
# (a deployment started mid-month does not send last month's figures out of the blue)
CATCH_UP_DAYS: Final = 7
EVENT: Final = "report.monthly"  # a webhook's `event`
KEY_PREFIX: Final = "rpt-"


def month_due(now_ms: int, tz: ZoneInfo) -> str | None:
    """The month ("YYYY-MM") whose report is due at `now_ms`: the last month's, from the
    1st at 09:00 local through the first week; None before 09:00 on the 1st and later on."""
    local = datetime.fromtimestamp(now_ms / 1000, tz)
    if local.day > CATCH_UP_DAYS or (local.day == 1 and local.hour < SEND_HOUR):
        return None
    last = local.replace(day=1) - timedelta(days=1)
    return f"{last.year:04d}-{last.month:02d}"


def month_bounds(month: str, tz: ZoneInfo) -> tuple[int, int]:
    """`[first day 00:00, next month's first day 00:00)` local, in epoch ms; ValueError for
    anything but an existing "YYYY-MM"."""
    if len(month) != 7 or month[4] != "-":
        raise ValueError(f"{month!r} is not a month like 2025-11")
    year, number = int(month[:4]), int(month[5:])
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def report_key(community: str, report: str, month: str, channel: str) -> str:
    """The delivery's unique key (40 characters, the outbox's column): the same community,
    report, month and channel always give the same one."""
    digest = hashlib.sha256(f"{community}/{report}/{month}/{channel}".encode()).hexdigest()
    return KEY_PREFIX + digest[: 40 - len(KEY_PREFIX)]


def month_title(month: str) -> str:
    """ "2025年11月"."""
    return f"{int(month[:4])}年{int(month[5:])}月"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} 分钟"


def render_report(community_name: str, month: str, f: Figures) -> Rendered:
    """The monthly message: the community's figures, the closure and reopen rates side by
    side (a closure that did not hold shows as a reopen)."""
    name = escape.markdown(community_name)
    title = f"【月度治理统计】{name} {month_title(month)}"
    lines = [
        f"- 新开工单 {f.opened} 件；已签收 {f.acknowledged} 件，"
        f"及时签收率 {percent(f.ack_in_time_rate)}",
        f"- 已办结 {f.resolved} 件，按时办结率 {percent(f.resolved_in_time_rate)}",
        f"- 结案率 {percent(f.closure_rate)}，重开率 {percent(f.reopen_rate)}",
        f"- 签收用时中位数 {_minutes(f.median_ack_s)}",
        f"- 居民投诉 {f.complaints} 件；回访 {f.followups} 次，"
        f"回访满意率 {percent(f.satisfaction_rate)}",
        "- 仅供知悉：明细请打开统计页（可打印）。",
    ]
    sms = {
        "event": "月度统计",
        "site": escape.plain(community_name)[:35],
        "rule": f"{month_title(month)} 工单{f.opened}件 及时签收{percent(f.ack_in_time_rate)}"[:35],
        "case": month,
        "what": f"按时办结{percent(f.resolved_in_time_rate)} 重开{percent(f.reopen_rate)}"[:35],
    }
    return Rendered(title, "\n".join(lines), sms)


def figures_doc(f: Figures) -> dict[str, Any]:
    """The figures as a webhook body carries them: CONTRACT §10's fields and the rates."""
    return {
        "opened": f.opened,
        "acknowledged": f.acknowledged,
        "acknowledged_in_time": f.acknowledged_in_time,
        "resolved": f.resolved,
        "resolved_in_time": f.resolved_in_time,
        "closed": f.closed,
        "reopened": f.reopened,
        "median_ack_s": f.median_ack_s,
        "complaints": f.complaints,
        "followups": f.followups,
        "followups_satisfied": f.followups_satisfied,
        "ack_in_time_rate": f.ack_in_time_rate,
        "resolved_in_time_rate": f.resolved_in_time_rate,
        "closure_rate": f.closure_rate,
        "reopen_rate": f.reopen_rate,
        "satisfaction_rate": f.satisfaction_rate,
    }
