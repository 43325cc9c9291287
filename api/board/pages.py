"""What the board's pages show, worked out on the server: texts, countdowns, the chart's
data, each site's state now. The views (api/board/views.py) render them."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from linli.api.board.chart import Band, ChartSpec, LimitStep, render_chart
from linli.api.permissions import may_act
from linli.influx.client import InfluxClient, InfluxError
from linli.influx.history import InfluxHistory
from linli.rules.case import LADDER, TRANSITIONS, Action, Case, CaseState, Level
from linli.rules.events import RuleId
from linli.rules.judge import SensorState
from linli.rules.limits import Period
from linli.rules.messages import LEVEL_NAMES, Facts, local, measured_line, window_line
from linli.rules.month import Month, month_of
from linli.rules.names import rule_name
from linli.rules.policy import Escalation, RulePolicy, SiteLimits
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Site
from linli.rules.routing import Event
from linli.store import Role
from linli.store.cases import Evidence

log = logging.getLogger(__name__)

# The actions a page offers, in this order (CONTRACT §5); each one tap and a note.
BOARD_ACTIONS: Final = (
    Action.ACKNOWLEDGE,
    Action.START,
    Action.RESOLVE,
    Action.COMMENT,
    Action.REOPEN,
    Action.CLOSE,
)
ACTION_NAMES: Final = {
    Action.OPEN: "开单",
    Action.ACKNOWLEDGE: "签收",
    Action.START: "开始处置",
    Action.RESOLVE: "办结",
    Action.COMMENT: "备注",
    Action.REOPEN: "重新打开",
    Action.CLOSE: "结案",
    Action.OCCUR: "再次超标",
    Action.ESCALATE: "升级",
    Action.VERIFY: "核验通过",
    Action.RECOVER: "设备恢复",
    Action.TELL: "通知",
}
ACTIVE: Final = frozenset(
    {CaseState.OPEN, CaseState.ACKNOWLEDGED, CaseState.IN_PROGRESS, CaseState.REOPENED}
)
CHART_MARGIN_MS: Final = 30 * 60_000  # readings shown before and after the window
CHART_MOST_MS: Final = 48 * 3_600_000  # the longest span one chart reads
DEVICE_SPAN_MS: Final = 2 * 3_600_000  # a device case without evidence: before it opened


def shown_time(ts_ms: int, tz: ZoneInfo, fmt: str = "%m-%d %H:%M") -> str:
    """A time as the community reads it; "—" for one no calendar holds (a bad row kept
    before times were bounded never breaks a page)."""
    try:
        return local(ts_ms, tz, fmt)
    except (ValueError, OverflowError, OSError):
        log.warning("a time out of any calendar (%d ms) shown as —", ts_ms)
        return "—"


def duration_text(ms: int) -> str:
    """ "3 天 4 小时", "2 小时 5 分", "12 分钟", "不到 1 分钟"."""
    minutes = max(ms, 0) // 60_000
    if minutes < 1:
        return "不到 1 分钟"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {mins} 分"
    return f"{mins} 分钟"


def next_escalation(case: Case, escalation: Escalation, now_ms: int) -> str | None:
    """The next escalation as a countdown (rules/case.due_level's deadlines), or None
    when the case will not climb (done, or at the top of the ladder)."""
    if case.state not in ACTIVE:
        return None
    i = LADDER.index(case.level)
    if i + 1 >= len(LADDER):
        return "已到最高级别（街道执法队）"
    deadlines = list(escalation.unresolved_s)
    if case.acknowledged_ms is None:
        deadlines.append(escalation.unacknowledged_s)
    age_s = (now_ms - case.opened_ms) / 1000
    ahead = sorted(d for d in deadlines if d > age_s)
    passed = [d for d in deadlines if d <= age_s]
    target = LEVEL_NAMES[LADDER[i + 1]]
    if passed and len(passed) + LADDER.index(case.first_level) > i:
        return f"已到升级时间，即将升级至{target}"
    if not ahead:
        return None
    left_ms = int((ahead[0] - age_s) * 1000)
    why = (
        "未签收"
        if case.acknowledged_ms is None and ahead[0] == escalation.unacknowledged_s
        else "未办结"
    )
    return f"{duration_text(left_ms)}后{why}将升级至{target}"


@dataclass(frozen=True, slots=True)
class DeadlineText:
    """A complaint case's time limit as the board shows it: a countdown, or overdue."""

    which: str  # "sign" (签收) or "handle" (办结)
    text: str
    overdue: bool


def deadlines(case: Case, now_ms: int, tz: ZoneInfo) -> list[DeadlineText]:
    """A complaint case's sign-for and handle-by deadlines (`sign_by_ms`, `handle_by_ms`:
    rules/complaint.py, handling counted in working days by rules/workdays.py) still
    running: signing for it until it is acknowledged, handling it until it is resolved."""
    if case.state not in ACTIVE:
        return []
    out: list[DeadlineText] = []
    limits = (
        ("sign", "签收", case.sign_by_ms if case.acknowledged_ms is None else None, ""),
        ("handle", "办结", case.handle_by_ms, "，按工作日计"),
    )
    for which, verb, due_ms, note in limits:
        if due_ms is None:
            continue
        left = due_ms - now_ms
        due = local(due_ms, tz)
        if left > 0:
            text = f"{verb}时限：还剩 {duration_text(left)}（{due} 前{note}）"
        else:
            text = f"{verb}已超时 {duration_text(-left)}（时限 {due}{note}）"
        out.append(DeadlineText(which, text, left <= 0))
    return out


def allowed_actions(role: Role, state: CaseState) -> list[Action]:
    """The actions this reader's role may take AND the case's state allows."""
    return [a for a in BOARD_ACTIONS if may_act(role, a) and (state, a) in TRANSITIONS]


def latest(evidence: Sequence[Evidence]) -> Evidence | None:
    """The newest evidence of a case."""
    return evidence[-1] if evidence else None


def summary(case: Case, site_name: str, ev: Evidence | None, tz: ZoneInfo) -> str:
    """The case in one sentence: where, what, measured against the limit, when."""
    if ev is None:
        return f"{site_name}：{case.title}。"
    facts = Facts(
        event=Event.OPENED,
        case=case,
        site_name=site_name,
        link="",
        tz=tz,
        measured=ev.measured,
        unit=ev.unit,
        limit=ev.limit_value,
        standard=ev.standard,
        clause=ev.clause_zh,
        window=(ev.start_ms, ev.end_ms),
    )
    parts = [p for p in (measured_line(facts), window_line(facts)) if p]
    return f"{site_name}{rule_name(case.rule)}：" + "，".join(parts) + "。"


# -- the chart -------------------------------------------------------------------------


def _metric(case: Case) -> tuple[str, str, str]:
    """(metric, title, unit) the chart of a case shows."""
    if case.rule == RuleId.NOISE_NIGHT_MAX:
        return "lamax", "LAmax，dB(A)", "dB(A)"
    if case.rule in (RuleId.FUME_CONC, RuleId.PURIFIER_OFF):
        return "oil_fume", "油烟浓度，mg/m³", "mg/m³"
    return "laeq", "LAeq，dB(A)", "dB(A)"


def _steps(values: Iterable[tuple[int, int, float | None]]) -> list[LimitStep]:
    """Consecutive (start, end, limit) spans merged into steps; None: no limit there."""
    out: list[LimitStep] = []
    for start, end, value in values:
        if value is None:
            continue
        if out and out[-1].value == value and out[-1].end_ms >= start:
            out[-1] = LimitStep(out[-1].start_ms, end, value)
        else:
            out.append(LimitStep(start, end, value))
    return out


def _bands(readings: Sequence[Reading], metric: str, label: str) -> list[Band]:
    """The spans where a boolean metric was on."""
    out: list[Band] = []
    for r in readings:
        if not r.metrics.get(metric):
            continue
        start, end = r.ts_ms - r.period_s * 1000, r.ts_ms
        if out and start <= out[-1].end_ms:
            out[-1] = Band(out[-1].start_ms, end, label)
        else:
            out.append(Band(start, end, label))
    return out


def chart_span(case: Case, ev: Evidence | None, now_ms: int) -> tuple[int, int]:
    """The readings a case's chart shows: its window ± 30 min (at most 48 h, its end)."""
    if ev is None:
        end = case.opened_ms + CHART_MARGIN_MS
        return end - DEVICE_SPAN_MS, min(end, now_ms)
    start, end = ev.start_ms - CHART_MARGIN_MS, ev.end_ms + CHART_MARGIN_MS
    return max(start, end - CHART_MOST_MS), end


def chart(
    influx: InfluxClient,
    policy: RulePolicy,
    case: Case,
    site: Site,
    ev: Evidence | None,
    tz: ZoneInfo,
    now_ms: int,
) -> str:
    """The SVG chart of a case's sensor around its window (api/board/chart.py)."""
    metric, title, unit = _metric(case)
    start, end = chart_span(case, ev, now_ms)
    readings: list[Reading] = []
    sensor = case.sensor or (ev.sensor if ev is not None else None)
    if sensor is not None:
        try:
            readings = InfluxHistory(influx).readings_after(sensor, start - 1, end)
        except InfluxError as err:  # the page still shows the case
            log.warning("case %s: readings for the chart: %s", case.id, err)
            title += "（读数暂不可用）"
    points: list[tuple[int, float | None]] = []
    last_ts: int | None = None
    for r in readings:
        value = r.metrics.get(metric)
        if value is None:
            continue
        if last_ts is not None and r.ts_ms - last_ts > 3 * r.period_s * 1000:
            points.append((last_ts + 1, None))  # a gap in the readings
        points.append((r.ts_ms, float(value)))
        last_ts = r.ts_ms
    limits = _limit_steps(policy, case, site, readings, ev, start, end)
    on_off: dict[str, list[Band]] = {}
    if case.rule in (RuleId.FUME_CONC, RuleId.PURIFIER_OFF) or any(
        r.kind is SensorKind.FUME for r in readings
    ):
        on_off = {
            "风机": _bands(readings, "fan_on", "风机开"),
            "净化器": _bands(readings, "purifier_on", "净化器开"),
        }
    window = None if ev is None else (ev.start_ms, ev.end_ms)
    return render_chart(
        ChartSpec(
            title=title,
            unit=unit,
            points=points,
            limits=limits,
            window=window,
            tz=tz,
            on_off=on_off,
        )
    )


def _limit_steps(
    policy: RulePolicy,
    case: Case,
    site: Site,
    readings: Sequence[Reading],
    ev: Evidence | None,
    start: int,
    end: int,
) -> list[LimitStep]:
    limits: SiteLimits = policy.site_limits(site)
    calendar = policy.calendar
    if case.rule == RuleId.NOISE_LEQ:
        spans = [
            (
                r.ts_ms - r.period_s * 1000,
                r.ts_ms,
                limits.noise_in_force(calendar, r.ts_ms, r.period_s).value,
            )
            for r in readings
            if r.kind is SensorKind.NOISE
        ]
        if spans:
            return _steps(spans)
    if case.rule == RuleId.NOISE_NIGHT_MAX:
        night = limits.night_max.value
        spans2: list[tuple[int, int, float | None]] = []
        for r in readings:
            period = calendar.period_of(r.ts_ms, r.period_s)
            spans2.append(
                (r.ts_ms - r.period_s * 1000, r.ts_ms, night if period is Period.NIGHT else None)
            )
        if spans2:
            return _steps(spans2)
    if case.rule in (RuleId.FUME_CONC, RuleId.PURIFIER_OFF) and limits.fume:
        return [LimitStep(start, end, limits.fume[0].value)]
    if ev is not None and ev.limit_value is not None:
        return [LimitStep(start, end, ev.limit_value)]
    return []


# -- the overview ----------------------------------------------------------------------

OK: Final = "ok"
OVER: Final = "over"
OPEN_CASE: Final = "open_case"
OFFLINE: Final = "offline"
STATUS_NAMES: Final = {OK: "正常", OVER: "超标", OPEN_CASE: "有工单", OFFLINE: "离线"}


@dataclass(frozen=True, slots=True)
class SiteNow:
    """One site's state now, for the overview."""

    site: Site
    status: str
    detail: str
    cases: tuple[Case, ...]


def site_status(
    site: Site,
    sensors: Sequence[str],
    kinds: Mapping[str, SensorKind],
    states: Mapping[str, SensorState],
    cases: Sequence[Case],
    policy: RulePolicy,
    tz: ZoneInfo,
    now_ms: int,
) -> SiteNow:
    """A site's state from the engine's saved memory of its sensors (the rule_state the
    engine writes: last readings, faults) and its cases not closed."""
    active = tuple(c for c in cases if c.state in ACTIVE)
    if active:
        names = "、".join(rule_name(c.rule) for c in active)
        return SiteNow(site, OPEN_CASE, f"{len(active)} 件工单：{names}", active)
    offline = [s for s in sensors if s not in states or RuleId.DEVICE_OFFLINE in states[s].faults]
    if not sensors:
        return SiteNow(site, OFFLINE, "没有传感器", ())
    if offline:
        return SiteNow(site, OFFLINE, "离线：" + "、".join(offline), tuple(cases))
    limits = policy.site_limits(site)
    over: list[str] = []
    latest_texts: list[str] = []
    for sensor in sensors:
        recent = states[sensor].recent
        if not recent:
            continue
        r = max(recent, key=lambda reading: reading.ts_ms)  # kept as received, not by time
        if kinds.get(sensor) is SensorKind.NOISE and "laeq" in r.metrics:
            limit = limits.noise_in_force(policy.calendar, r.ts_ms, r.period_s).value
            value = float(r.metrics["laeq"])
            latest_texts.append(f"{value:.1f} dB(A)（限值 {limit:g}）")
            if value > limit:
                over.append(sensor)
        elif "oil_fume" in r.metrics and limits.fume:
            limit = limits.fume[0].value
            value = float(r.metrics["oil_fume"])
            latest_texts.append(f"{value:.2f} mg/m³（限值 {limit:g}）")
            if value > limit:
                over.append(sensor)
    detail = "；".join(latest_texts) or "暂无读数"
    return SiteNow(site, OVER if over else OK, detail, tuple(cases))


# -- complaints ------------------------------------------------------------------------

SOURCE_NAMES: Final = {
    "walk_in": "来访",
    "phone": "电话",
    "12345": "12345 热线",
    "web": "网上",
    "open311": "城市平台（Open311）",
}
VERDICT_NAMES: Final = {
    "corroborated": "属实（监测数据支持）",
    "not_corroborated": "监测数据未超标（需现场核查）",
    "no_coverage": "无监测覆盖（需现场核查）",
    "data_gap": "监测数据不足（需现场核查）",
}
PRIORITY_NAMES: Final = {"normal": "普通", "high": "高", "urgent": "紧急"}


def level_name(level: Level | str) -> str:
    """A ladder level as people call it."""
    try:
        return LEVEL_NAMES[Level(level)]
    except ValueError:
        return str(level)


# -- reports (CONTRACT §10) ------------------------------------------------------------


def report_months(now_ms: int, tz: str) -> list[tuple[str, Month]]:
    """(label, month) of the reports a page links: this month's and the last one's."""
    this = month_of(now_ms, tz)
    return [("本月月报", this), ("上月月报", this.previous())]
