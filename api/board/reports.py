"""A site's month on the board (CONTRACT §10): a printable page (A4, zh-CN) with the
month's charts (daily Ld and Ln against the limits in force, or a fume site's daily mean
while the fan ran), the table, and the standards and clauses cited; its CSV and XLSX.

The figures are the API's (api/sitemonth.py, rules/month.py): one computation. Scope is
the API's too: another site's report does not exist (404). A signed link (`?t=`, the
overview's kind, no case in it) signs the reader in first, as on the other pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from linli.api import exports
from linli.api.board import sessions, views
from linli.api.board.chart import ChartSpec, LimitStep, render_chart
from linli.api.params import FIRST_YEAR, LAST_YEAR
from linli.api.scope import Scope
from linli.api.services import services
from linli.api.sitemonth import SiteMonthReport, site_month_report
from linli.rules.limits import Period
from linli.rules.month import Figures, Month, Verdict, day_verdict, month_of, parse_month, spans
from linli.store import NotFound

router = APIRouter(prefix="/board", include_in_schema=False)

CHART_WIDTH: Final = 680  # px: the A4 page's text width at 96 dpi, less margins
VERDICT_NAMES: Final = {Verdict.WITHIN: "达标", Verdict.OVER: "超标", Verdict.UNKNOWN: "数据不足"}


def report_path(site_id: str, month: Month) -> str:
    """The board's page of a site's month."""
    return f"/board/reports/sites/{quote(site_id, safe='')}?month={month}"


def report_links(site_id: str, now_ms: int, tz: str) -> list[tuple[str, str]]:
    """(label, path) of a site's reports of this month and the last, for the overview and
    the case page."""
    this = month_of(now_ms, tz)
    return [
        ("本月月报", report_path(site_id, this)),
        ("上月月报", report_path(site_id, this.previous())),
    ]


@dataclass(frozen=True, slots=True)
class Row:
    """A day of the table as the page shows it."""

    date: str
    weekday: str
    figures: Figures
    verdict: Verdict


_WEEKDAYS: Final = "一二三四五六日"


def _charts(report: SiteMonthReport, tz: ZoneInfo) -> list[str]:
    """Daily Ld and Ln against the limits in force (noise), the daily mean while the fan
    ran against the oil-fume limit (fume): each point at its period's middle."""
    m = report.month
    cal_spans = spans(m.month, report.calendar)
    charts = []
    if m.noise:
        for period, field, limit_field, title, svg_id in (
            (Period.DAY, "ld", "limit_day", "昼间等效声级 Ld（06–22时）", "report-chart-ld"),
            (Period.NIGHT, "ln", "limit_night", "夜间等效声级 Ln（22–06时）", "report-chart-ln"),
        ):
            by_date = {d.date: d.figures for d in m.days}
            points: list[tuple[int, float | None]] = []
            limits: list[LimitStep] = []
            for s in cal_spans:
                if s.period is not period:
                    continue
                f = by_date[s.day]
                points.append(((s.start_ms + s.end_ms) // 2, getattr(f, field)))
                limit = getattr(f, limit_field)
                if limit is not None:
                    limits.append(LimitStep(s.start_ms, s.end_ms, limit))
            charts.append(
                render_chart(
                    ChartSpec(
                        title, "dB(A)", points, limits, None, tz, width=CHART_WIDTH, svg_id=svg_id
                    )
                )
            )
    if m.fume:
        oil = next((x for x in report.fume_limits if x.metric == "oil_fume"), None)
        points = []
        limits = []
        for d in m.days:
            start = datetime(d.date.year, d.date.month, d.date.day, tzinfo=tz)
            start_ms = int(start.timestamp() * 1000)
            end_ms = int((start + timedelta(days=1)).timestamp() * 1000)
            points.append(((start_ms + end_ms) // 2, d.figures.fume_mean))
            if oil is not None:
                limits.append(LimitStep(start_ms, end_ms, oil.value))
        charts.append(
            render_chart(
                ChartSpec(
                    "风机运行时油烟日均浓度",
                    "mg/m³",
                    points,
                    limits,
                    None,
                    tz,
                    width=CHART_WIDTH,
                    svg_id="report-chart-fume",
                )
            )
        )
    return charts


def _month(text: str | None, tz: str, now_ms: int) -> Month | None:
    if text is None:
        return month_of(now_ms, tz)
    try:
        month = parse_month(text)
    except ValueError:
        return None
    return month if FIRST_YEAR <= month.year <= LAST_YEAR else None


@router.get("/reports/sites/{site_id}")
def site_report(
    request: Request,
    site_id: str,
    month: str | None = None,
    format: str | None = None,
    t: str | None = None,
) -> Response:
    """A site's month, printable (A4); `?format=csv|xlsx` downloads it."""
    svc = services(request)
    if t is not None:  # a signed link: sign in, then this page without the token
        linked = _month(month, svc.config.tz, views.now_ms())
        target = f"/board/reports/sites/{quote(site_id, safe='')}"
        return views.open_link(
            request, svc, t, target if linked is None else target + f"?month={linked}"
        )
    session = sessions.current(request, svc)
    if session is None:
        return views.login_redirect(request)
    scope = Scope(session.grant, svc.db)
    try:
        site = scope.site(site_id)
    except NotFound:
        return views.not_found(session, "点位")
    policy = svc.policy_of(site.id)
    wanted = _month(month, policy.calendar.tz, views.now_ms())
    if wanted is None:
        return views.error_page(
            422, "月份无效", "月份应写作 YYYY-MM，例如 2025-11（1970–2099年）。", session
        )
    report = site_month_report(svc, site, wanted)
    if format == "csv":
        return Response(
            exports.csv_bytes(report),
            media_type=exports.CSV_MEDIA,
            headers={
                **views.HEADERS,
                "Content-Disposition": f'attachment; filename="{exports.filename(report, "csv")}"',
            },
        )
    if format == "xlsx":
        return Response(
            exports.xlsx_bytes(report),
            media_type=exports.XLSX_MEDIA,
            headers={
                **views.HEADERS,
                "Content-Disposition": f'attachment; filename="{exports.filename(report, "xlsx")}"',
            },
        )
    tz = ZoneInfo(policy.calendar.tz)
    fume_limit = next((x.value for x in report.fume_limits if x.metric == "oil_fume"), None)
    rows = [
        Row(
            d.date.isoformat(),
            _WEEKDAYS[d.date.weekday()],
            d.figures,
            day_verdict(
                d.figures,
                min_coverage=report.min_coverage,
                fume_limit_mg=fume_limit,
                purifier_off_min=policy.purifier_off_s / 60,
            ),
        )
        for d in report.month.days
    ]
    return render_report(session, report, rows, _charts(report, tz))


def render_report(
    session: sessions.Session, report: SiteMonthReport, rows: list[Row], charts: list[str]
) -> Response:
    """The page itself."""
    m = report.month.month
    return views.render(
        "report.html",
        session=session,
        report=report,
        site=report.site,
        month=m,
        title=f"{m.year}年{m.month}月",
        rows=rows,
        charts=charts,
        verdict_name=VERDICT_NAMES,
        counts={v.value: sum(1 for r in rows if r.verdict is v) for v in Verdict},
        previous=report_path(report.site.id, m.previous()),
        next=report_path(report.site.id, m.next()),
        csv=report_path(report.site.id, m) + "&format=csv",
        xlsx=report_path(report.site.id, m) + "&format=xlsx",
        min_coverage=report.min_coverage,
    )
