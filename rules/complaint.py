"""Residents' complaints (投诉, CONTRACT §7): where they point, when they are due, which case.

Pure: a complaint's address matched to a site, the sites whose sensors may bear it out,
its window checked, its deadlines by source (working days: rules/workdays.py), the case it
opens when no case is open, and a case's priority as its complaints add up.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from linli.rules.case import Case, CaseKind, CaseState, Level
from linli.rules.events import RuleId, complaint_rule
from linli.rules.names import rule_title
from linli.rules.policy import Escalation
from linli.rules.reading import SensorKind
from linli.rules.registry import Site, SiteKind
from linli.rules.workdays import IsWorkday, add_working_days, china_workday

MINUTE_MS: Final = 60_000
DEFAULT_WINDOW_S: Final = 30 * 60  # "now": the last 30 minutes
MAX_WINDOW_S: Final = 7 * 24 * 3600
CLOCK_SKEW_S: Final = 60  # a window may end this far past the server's now
# A complaint is about a nuisance of the last weeks (a 12345 order is dispatched within
# days): a window that starts earlier is refused, so no window reaches back to 1970 or
# to readings InfluxDB no longer keeps (LINLI_INFLUX_RETENTION, 400 days by default).
MAX_AGE_DAYS: Final = 90
MAX_TEXT_CHARS: Final = 4000
MAX_ADDRESS_CHARS: Final = 500


class Source(StrEnum):
    """Where a complaint came in (CONTRACT §7)."""

    HOTLINE = "12345"  # the city hotline, dispatched to the community as a work order
    PHONE = "phone"
    WALK_IN = "walk_in"
    WEB = "web"
    OPEN311 = "open311"


# The breach rules of each kind: a complaint joins an open case of one of them.
KIND_RULES: Final[Mapping[SensorKind, tuple[str, ...]]] = {
    SensorKind.NOISE: (RuleId.NOISE_LEQ.value, RuleId.NOISE_NIGHT_MAX.value),
    SensorKind.FUME: (RuleId.FUME_CONC.value, RuleId.PURIFIER_OFF.value),
}


def rules_of(kind: SensorKind) -> tuple[str, ...]:
    """Every rule whose open case a complaint of `kind` joins, its own complaint rule last."""
    return (*KIND_RULES[kind], complaint_rule(kind))


@dataclass(frozen=True, slots=True)
class Deadline:
    """A source's time limits: sign for (签收) within hours, handle (办结) within working days."""

    sign_for_h: float = 2.0
    handle_working_days: int = 5


@dataclass(frozen=True, slots=True)
class ComplaintRules:
    """What a community configures about complaints (the community file's `[complaints]`)."""

    window_s: int = DEFAULT_WINDOW_S
    min_coverage: float = 0.75
    # data_gap complaints whose window ended at most this long ago are judged again
    rejudge_s: int = 24 * 3600
    deadlines: Mapping[str, Deadline] = field(
        default_factory=lambda: {Source.HOTLINE.value: Deadline(2.0, 5)}
    )
    default_deadline: Deadline = field(default_factory=Deadline)
    near: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # site → nearby sites

    def deadline(self, source: str) -> Deadline:
        """The time limits of complaints from `source`."""
        return self.deadlines.get(source, self.default_deadline)


class WindowError(ValueError):
    """A complaint window linli cannot judge."""


def window_of(
    from_ms: int | None, to_ms: int | None, now_ms: int, window_s: int = DEFAULT_WINDOW_S
) -> tuple[int, int]:
    """The complaint's window: given, or the last `window_s` ("now", to the last whole
    minute: the same words twice within a minute are one request); raises WindowError."""
    skew = CLOCK_SKEW_S * 1000
    if from_ms is None:
        if to_ms is not None:
            raise WindowError("'to' without 'from': give both, or neither for the last 30 min")
        end = now_ms // MINUTE_MS * MINUTE_MS
        return end - window_s * 1000, end
    if from_ms > now_ms + skew:
        raise WindowError("the window starts in the future")
    end = min(from_ms + window_s * 1000, now_ms) if to_ms is None else to_ms
    if end > now_ms + skew:
        raise WindowError("the window ends in the future")
    if end <= from_ms:
        raise WindowError("'to' must be after 'from'")
    if end - from_ms > MAX_WINDOW_S * 1000:
        raise WindowError(f"the window is longer than {MAX_WINDOW_S // 86400} days")
    if from_ms < now_ms - MAX_AGE_DAYS * 86_400_000:
        raise WindowError(f"the window starts more than {MAX_AGE_DAYS} days ago")
    return from_ms, end


# -- addresses --------------------------------------------------------------------------

_SPACE: Final = re.compile(r"[\s·,，。、()（）\[\]【】-]+")


def normalise(address: str) -> str:
    """An address compared without spaces, punctuation or full-width forms."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", address)).lower()


# A leading administrative prefix: a district or county (上城区, 淳安县), after a province
# and a city or not (浙江省杭州市上城区). What ends in 区 inside an address is more often
# its own name (红街小区, 天新社区, 科技园区, 天城东区): a 区 after one of these characters
# is never taken for a district, and a district's name is one to three characters. Left
# in, a district costs only the exact match; taken out wrongly, "红街小区3幢" and
# "天城小区3幢" would both be "3幢".
_DISTRICT: Final = re.compile(
    r"^(?:[^省市区县]{2,3}省)?(?:[^省市区县]{2,4}市)?"
    r"[^省市区县]{1,3}(?<![小社园景街校厂片营矿东西南北中宅活公商业院])[区县]"
)


def _key(text: str) -> str:
    """An address compared: normalised, a leading district (上城区, 杭州市上城区) left out."""
    k = normalise(text)
    stripped = _DISTRICT.sub("", k, count=1)
    return stripped if len(stripped) >= 2 else k


def match_site(address: str, sites: Iterable[Site]) -> Site | None:
    """The site an address names: its address exactly; else the longest site address or
    name the text contains (a building's name inside "红街公寓5幢2单元301"); else the site
    whose address the text is the start of ("新塘路70号" for "新塘路70号 二楼")."""
    text = _key(address)
    if not text:
        return None
    best: tuple[float, Site] | None = None
    for site in sites:
        for raw in (site.address, site.name):
            k = _key(raw) if raw else ""
            if len(k) < 2:
                continue
            if k == text:
                score = 3.0
            elif k in text:
                score = 2.0 + len(k) / 1000
            elif len(text) >= 4 and k.startswith(text):
                score = 1.0 + len(text) / len(k)
            else:
                continue
            if best is None or score > best[0]:
                best = (score, site)
    return None if best is None else best[1]


def related_sites(site: Site, sites: Mapping[str, Site], rules: ComplaintRules) -> list[Site]:
    """The sites whose sensors may bear a complaint at `site` out: the site, the shops of a
    residential building (their address names the building: "红街公寓5幢底商 2号"), and
    the sites the community file lists as `near` it (either way round)."""
    out = [site]
    seen = {site.id}

    def add(other: Site | None) -> None:
        if other is not None and other.id not in seen:
            seen.add(other.id)
            out.append(other)

    if site.kind is SiteKind.RESIDENTIAL:
        name = normalise(site.name)
        for other in sites.values():
            if other.kind is SiteKind.SHOP and name and name in normalise(other.address):
                add(other)
    for near in rules.near.get(site.id, ()):
        add(sites.get(near))
    for other_id, nears in rules.near.items():
        if site.id in nears:
            add(sites.get(other_id))
    return out


# -- the case ---------------------------------------------------------------------------


def complaint_case(
    site: Site,
    kind: SensorKind,
    sensor: str | None,
    now_ms: int,
    deadline: Deadline,
    tz: str,
    is_workday: IsWorkday = china_workday,
) -> Case:
    """The `complaint` case a complaint opens when its site has no open case of its kind:
    at the grid worker (a resident's matter, 小事不出网格), with the source's deadlines."""
    return Case(
        site=site.id,
        grid=site.grid,
        rule=complaint_rule(kind),
        kind=CaseKind.COMPLAINT,
        sensor=sensor,
        title=f"{site.name}: {rule_title(complaint_rule(kind))}",
        opened_ms=now_ms,
        first_level=Level.GRID_WORKER,
        complaints=1,
        sign_by_ms=now_ms + int(deadline.sign_for_h * 3600 * 1000),
        handle_by_ms=add_working_days(now_ms, deadline.handle_working_days, tz, is_workday),
    )


def next_deadline(case: Case, escalation: Escalation | None = None, now_ms: int = 0) -> int | None:
    """The case's next deadline: signing for it while unacknowledged, then handling it (a
    complaint case's own time limits; another case's from the escalation schedule)."""
    if case.state in (CaseState.RESOLVED, CaseState.CLOSED):
        return None
    if case.sign_by_ms is not None or case.handle_by_ms is not None:
        if case.acknowledged_ms is None and case.sign_by_ms is not None:
            return case.sign_by_ms
        return case.handle_by_ms
    if escalation is None:
        return None
    if case.acknowledged_ms is None:
        return case.opened_ms + escalation.unacknowledged_s * 1000
    for limit_s in escalation.unresolved_s:
        if case.opened_ms + limit_s * 1000 > now_ms:
            return case.opened_ms + limit_s * 1000
    return None


class Priority(StrEnum):
    """How urgently a case is handled: it rises with the residents who complain of it."""

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_AT: Final = ((5, Priority.URGENT), (2, Priority.HIGH))  # complaints → priority


def priority(complaints: int) -> Priority:
    """A case's priority by its complaints: 2 or more high, 5 or more urgent."""
    for at_least, level in PRIORITY_AT:
        if complaints >= at_least:
            return level
    return Priority.NORMAL


# the rule whose case a corroboration's measure speaks of
RULE_OF_METRIC: Final = {
    "laeq": RuleId.NOISE_LEQ.value,
    "lamax": RuleId.NOISE_NIGHT_MAX.value,
    "oil_fume": RuleId.FUME_CONC.value,
    "purifier_off_min": RuleId.PURIFIER_OFF.value,
}


def pick_case(
    open_cases: Sequence[Case], order: Sequence[str], metric: str | None = None
) -> Case | None:
    """The open case a complaint joins: the first site of `order` (nuisance_order) with
    one; there, the case of the rule the corroboration measured (the purifier off: the
    `purifier_off` case), a breach case before a complaint case, the oldest first."""
    preferred = RULE_OF_METRIC.get(metric or "")
    ranked = sorted(
        (c for c in open_cases if c.site in order),
        key=lambda c: (
            order.index(c.site),
            c.rule != preferred,
            c.kind is CaseKind.COMPLAINT,
            c.opened_ms,
        ),
    )
    return ranked[0] if ranked else None


def nuisance_order(related: Sequence[Site], corroborating_site: str | None) -> list[str]:
    """The related sites, the likely sources of a nuisance first: shops before homes, and
    among each the site whose sensor bore the complaint out first."""

    def rank(s: Site) -> tuple[bool, bool]:
        return (s.kind is not SiteKind.SHOP, s.id != corroborating_site)

    return [s.id for s in sorted(related, key=rank)]
