"""A site's month (CONTRACT §10), gathered once for the API, its exports and the board.

The figures are rules/month.py's; this module fetches what they are computed from (the
site's readings, influx/month.py; when its cases were opened and its complaints received,
store/reports.py), and gives the one JSON document the API returns and the exports and
the printable page render. Counts only: nothing about a resident is fetched (CONTRACT §7).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from linli.api.services import Services
from linli.influx.month import month_readings
from linli.rules.limits import Limit
from linli.rules.localtime import Calendar
from linli.rules.month import (
    FIELDS,
    Figures,
    Month,
    SiteMonth,
    fetch_range,
    limits_from_stored,
    site_month,
)
from linli.rules.policy import RulePolicy
from linli.store import SiteRecord


@dataclass(frozen=True, slots=True)
class SiteMonthReport:
    """A site's month with what a reader needs beside the numbers: the site and the
    limits and clauses in force now (the day rows carry the values in force each day)."""

    site: SiteRecord
    month: SiteMonth
    calendar: Calendar  # its community's: the days' and nights' bounds, the time zone
    noise_limits: tuple[Limit, ...]  # day, night: the clauses cited
    fume_limits: tuple[Limit, ...]  # concentration limits, then the purifier's
    min_coverage: float


@contextmanager
def no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: a month's ~44 000 rows a sensor become ~200 000
    new containers (none in a cycle), which it would otherwise traverse again and again
    (bench/report.py: reading back and building a month took 5–6 times as long)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def site_month_report(services: Services, site: SiteRecord, month: Month) -> SiteMonthReport:
    """Compute a site's month from InfluxDB and the case store."""
    with no_collection():
        return _report(services, site, month)


def _report(services: Services, site: SiteRecord, month: Month) -> SiteMonthReport:
    policy: RulePolicy = services.policy_of(site.id)
    calendar = policy.calendar
    from_ms, to_ms = fetch_range(month, calendar)
    fetched = month_readings(services.influx, site.id, from_ms, to_ms)
    limits = policy.site_limits(site)
    in_force = limits_from_stored(
        fetched.limits, calendar, limits.noise_day.value, limits.noise_night.value
    )
    events = services.db.site_events(site.id, from_ms, to_ms)
    kinds = {s.kind for s in services.db.sensors() if s.site == site.id}
    figures = site_month(
        site.id,
        month,
        fetched.readings,
        in_force,
        calendar,
        kinds=kinds,
        cases_opened_ms=events.cases_opened_ms,
        complaints_ms=events.complaints_ms,
        purifier_current_min_a=policy.purifier_current_min_a,
    )
    return SiteMonthReport(
        site,
        figures,
        calendar,
        (limits.noise_day, limits.noise_night),
        (*limits.fume, limits.purifier),
        policy.min_coverage,
    )


def _figures(f: Figures) -> dict[str, Any]:
    return {name: getattr(f, name) for name in FIELDS}


def _day(d: date, f: Figures) -> dict[str, Any]:
    return {"date": d.isoformat(), **_figures(f)}


def month_doc(report: SiteMonthReport) -> dict[str, Any]:
    """The API's answer: `{"site", "month", "days", "summary"}` (CONTRACT §10) and what
    kinds of figures apply."""
    m = report.month
    return {
        "site": m.site,
        "month": str(m.month),
        "tz": report.calendar.tz,
        "noise": m.noise,
        "fume": m.fume,
        "days": [_day(d.date, d.figures) for d in m.days],
        "summary": _figures(m.summary),
    }
