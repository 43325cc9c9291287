"""A site's public record (CONTRACT §11): its last 30 days, its open case in plain words,
its merchant's reply, the standard that applies; and a community's red/green list.

The days are the month report's numbers (rules/month.py: `site_month`, `day_verdict`),
computed once; this module only fetches and caches them. What the public is shown of
them is rules/disclosure.py's public table: a day's verdict for every site, the numbers
only for a shop.

Caching (docs/public.md): a past day's verdict no longer changes once its night has ended
and it is covered (or two days have passed for late readings to come), so it is kept per
site and day until evicted; today and a day still open are computed again at most every
`LINLI_PUBLIC_CACHE_S`, with the whole page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from linli.api.public.public import Public
from linli.influx.history import InfluxHistory
from linli.rules.case import Case, CaseState
from linli.rules.disclosure import SiteClass, SitePart, public_sees, site_class
from linli.rules.limits import Limit
from linli.rules.messages import LEVEL_NAMES
from linli.rules.month import (
    Figures,
    LimitsInForce,
    Month,
    Verdict,
    day_verdict,
    site_month,
)
from linli.rules.names import rule_name
from linli.rules.reading import Reading, SensorKind
from linli.store import SiteRecord
from linli.store.public import PublicReply

DAYS: Final = 30
SETTLED_MS: Final = 2 * 86_400_000  # after this, late readings are not waited for


@dataclass(frozen=True, slots=True)
class DayMark:
    """One day of the record: its verdict, and its figures (shown for a shop only)."""

    date: date
    verdict: Verdict
    figures: Figures | None


@dataclass(frozen=True, slots=True)
class CaseWords:
    """The site's open case as the public reads it."""

    what: str  # the rule's name: 夜间噪声超标
    state: str  # in plain words: 商户已签收，正在处理
    opened: str  # local date


@dataclass(frozen=True, slots=True)
class SitePublic:
    """Everything a site's public page shows, already filtered for the public."""

    site: SiteRecord
    cls: SiteClass
    community: str
    days: tuple[DayMark, ...]
    case: CaseWords | None
    reply: PublicReply | None
    standards: tuple[str, ...]
    reply_on: str = ""  # the reply's local date

    def shows(self, part: str) -> bool:
        """Whether the page shows `part` (rules/disclosure.py's public table)."""
        return public_sees(self.cls, SitePart(part))

    @property
    def within(self) -> int:
        """Days within the limits."""
        return sum(1 for d in self.days if d.verdict is Verdict.WITHIN)

    @property
    def over(self) -> int:
        """Days over the limits."""
        return sum(1 for d in self.days if d.verdict is Verdict.OVER)


STATE_WORDS: Final = {
    CaseState.OPEN: "已立案，等待{level}签收",
    CaseState.ACKNOWLEDGED: "{level}已签收，正在处理",
    CaseState.IN_PROGRESS: "正在整改",
    CaseState.RESOLVED: "已整改，正在核验效果",
    CaseState.REOPENED: "整改后再次超标，已重新处理",
    CaseState.CLOSED: "已结案",
}


def case_words(case: Case, tz: ZoneInfo) -> CaseWords:
    """A case in plain words, no note, no person, no number."""
    state = STATE_WORDS[case.state].format(level=LEVEL_NAMES[case.level])
    opened = datetime.fromtimestamp(case.opened_ms / 1000, tz).strftime("%Y-%m-%d")
    return CaseWords(rule_name(case.rule), state, opened)


def _standard_line(limit: Limit) -> str:
    return f"{limit.clause_zh}：{limit.value:g} {limit.unit}"


def _verdict(pub: Public, figures: Figures, fume: Sequence[Limit]) -> Verdict:
    return day_verdict(
        figures,
        min_coverage=pub.services.complaint_rules.min_coverage,
        fume_limit_mg=fume[0].value if fume else None,
    )


def days_of(pub: Public, site: SiteRecord, today: date, now_ms: int) -> tuple[DayMark, ...]:
    """The last `DAYS` days up to `today` (local), each from the month report's numbers;
    settled past days from the cache."""
    svc = pub.services
    policy = svc.policy_of(site.id)
    calendar = policy.calendar
    tz = ZoneInfo(calendar.tz)
    limits = policy.site_limits(site)
    dates = [today - timedelta(days=i) for i in range(DAYS - 1, -1, -1)]
    now_s = now_ms / 1000
    marks: dict[date, DayMark] = {}
    for d in dates:
        found = pub.days.get((site.id, d), now_s)
        if found is not None:
            marks[d] = found
    missing = [d for d in dates if d not in marks]
    if missing:
        sensors = [s for s in svc.db.sensors() if s.site == site.id]
        kinds = {s.kind for s in sensors}
        start = _midnight(missing[0], tz) - 3_600_000
        end = _midnight(missing[-1] + timedelta(days=2), tz) + 3_600_000
        history = InfluxHistory(svc.influx)
        readings: list[Reading] = []
        for sensor in sensors:
            readings += history.readings_after(sensor.id, start, min(end, now_ms))
        in_force = LimitsInForce.constant(limits.noise_day.value, limits.noise_night.value)
        for month in sorted({Month(d.year, d.month) for d in missing}):
            computed = site_month(site.id, month, readings, in_force, calendar, kinds=kinds)
            for day in computed.days:
                if day.date not in missing:
                    continue
                mark = DayMark(day.date, _verdict(pub, day.figures, limits.fume), day.figures)
                marks[day.date] = mark
                ended_ms = _midnight(day.date + timedelta(days=1), tz) + 6 * 3_600_000
                settled = now_ms > ended_ms and (
                    mark.verdict is not Verdict.UNKNOWN or now_ms > ended_ms + SETTLED_MS
                )
                until = None if settled else now_s + svc.config.public_cache_s
                pub.days.put((site.id, day.date), mark, until)
    return tuple(marks[d] for d in dates)


def _midnight(d: date, tz: ZoneInfo) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp() * 1000)


def site_public(pub: Public, site: SiteRecord, now_ms: int) -> SitePublic:
    """A site's public record now."""
    svc = pub.services
    policy = svc.policy_of(site.id)
    tz = ZoneInfo(policy.calendar.tz)
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    cls = site_class(site.kind.value, site.merchant is not None)
    with svc.db.cases() as tx:
        open_cases = [c for c in tx.not_closed() if c.site == site.id]
    open_cases.sort(key=lambda c: c.opened_ms)
    with svc.db.public() as ptx:
        reply = ptx.reply(site.id)
    if reply is not None and (reply.hidden or not public_sees(cls, SitePart.REPLY)):
        reply = None
    limits = policy.site_limits(site)
    kinds = {s.kind for s in svc.db.sensors() if s.site == site.id}
    standards: list[str] = []
    if SensorKind.NOISE in kinds:
        standards += [_standard_line(limits.noise_day), _standard_line(limits.noise_night)]
    if SensorKind.FUME in kinds and limits.fume:
        standards.append(_standard_line(limits.fume[0]))
    return SitePublic(
        site,
        cls,
        svc.db.community_of_site(site.id),
        days_of(pub, site, today, now_ms),
        case_words(open_cases[-1], tz) if open_cases else None,
        reply,
        tuple(standards),
        ""
        if reply is None
        else datetime.fromtimestamp(reply.at_ms / 1000, tz).strftime("%Y-%m-%d"),
    )
