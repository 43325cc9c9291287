"""What a community configures about its rules: standards, windows, thresholds, schedules.

Defaults follow docs/domain.md; every timing constant is a parameter, so tests pass 0 and
a community's `[rules]` table (linli/community.py) overrides any of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from linli.rules.events import RuleId
from linli.rules.limits import (
    FUME_METRICS,
    FumeStandard,
    Limit,
    NoiseStandard,
    Period,
    fume_limit,
    night_max_limit,
    noise_limit,
    purifier_limit,
)
from linli.rules.localtime import Calendar
from linli.rules.registry import Site, SiteKind


@dataclass(frozen=True, slots=True)
class Escalation:
    """When a case climbs the ladder merchant → grid worker → community → street enforcement.

    One step when it is not acknowledged within `unacknowledged_s`, and one more for each
    of `unresolved_s` that passes before it is resolved (all counted from opening).
    """

    unacknowledged_s: int = 30 * 60
    unresolved_s: tuple[int, ...] = (24 * 3600, 72 * 3600)
    # An unacknowledged case's level is told again this often, until someone
    # acknowledges it; 0: no reminders.
    remind_s: int = 30 * 60


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """Every knob of the rule engine, with docs/domain.md's defaults."""

    calendar: Calendar = field(default_factory=Calendar)
    # Which standard a site is judged by: residential buildings by GB 3096 (ambient),
    # shops by GB 22337 (boundary); per-site overrides win.
    noise_standard_residential: NoiseStandard = NoiseStandard.GB3096
    noise_standard_shop: NoiseStandard = NoiseStandard.GB22337
    fume_standard: FumeStandard = FumeStandard.GB18483
    site_noise_standard: Mapping[str, NoiseStandard] = field(default_factory=dict)
    site_fume_standard: Mapping[str, FumeStandard] = field(default_factory=dict)
    # A community's own fume limits (mg/m³) beside or instead of the standard's.
    fume_limit_mg: Mapping[str, float] = field(default_factory=dict)
    # noise_leq: a rolling energetic LAeq over `leq_window_s`, judged when the window
    # holds at least `min_coverage` of its time in readings (HJ 906's valid-data rate,
    # unconfirmed: configurable); breach once over for `leq_sustain_s` more; cleared
    # when it falls `leq_hysteresis_db` below the limit.
    leq_window_s: int = 600
    leq_sustain_s: int = 0
    leq_hysteresis_db: float = 2.0
    min_coverage: float = 0.75
    # fume_conc: mean over `fume_window_s` of readings with the fan running.
    fume_window_s: int = 600
    fume_business_hours_only: bool = False
    # purifier_off: fan on and purifier off (state, or current below the threshold)
    # for `purifier_off_s`, inside business hours (GB 18483-2001 §5.1).
    purifier_off_s: int = 600
    purifier_current_min_a: float = 0.5
    # device rules
    offline_periods: int = 5
    stuck_repeats: int = 5
    implausible_laeq_below_db: float = 25.0
    implausible_fume_above_mg: float = 20.0
    # data older than this when it arrives is "late data" on its case
    late_after_s: int = 15 * 60
    # evidence: readings from this long before to this long after the breach
    evidence_margin_s: int = 30 * 60
    # lifecycle
    verification_s: int = 24 * 3600
    escalation: Escalation = field(default_factory=Escalation)
    # A street's communities (CONTRACT §9), each with its own `[rules]`: the policy of a
    # site is its grid's community's (`of`), this one for a community not listed.
    communities: Mapping[str, RulePolicy] = field(default_factory=dict)

    def of(self, community: str) -> RulePolicy:
        """The policy of one community's sites: its own, else this one."""
        return self.communities.get(community, self)

    def episode_window_s(self, rule: RuleId) -> int:
        """A breach rule's window: a gap shorter than it joins two spells into one episode
        (the knob each rule in rules/breaches.py joins and ends its episodes by)."""
        windows = {
            RuleId.NOISE_LEQ: self.leq_window_s,
            RuleId.NOISE_NIGHT_MAX: self.leq_window_s,
            RuleId.FUME_CONC: self.fume_window_s,
            RuleId.PURIFIER_OFF: self.purifier_off_s,
        }
        return windows.get(rule, 0)

    def noise_standard(self, site: Site) -> NoiseStandard:
        """The noise standard a site is judged by."""
        if site.id in self.site_noise_standard:
            return self.site_noise_standard[site.id]
        if site.kind is SiteKind.SHOP:
            return self.noise_standard_shop
        return self.noise_standard_residential

    def fume_standard_of(self, site: Site) -> FumeStandard:
        """The cooking-fume standard a site is judged by."""
        return self.site_fume_standard.get(site.id, self.fume_standard)

    def fume_limits(self, site: Site) -> list[Limit]:
        """The fume concentration limits in force at a site (oil fume always; pm, nmhc if set)."""
        standard = self.fume_standard_of(site)
        out = []
        for metric in FUME_METRICS:
            limit = fume_limit(standard, metric, site.cooking_heads, self.fume_limit_mg.get(metric))
            if limit is not None:
                out.append(limit)
        return out

    def site_limits(self, site: Site) -> SiteLimits:
        """Every limit in force at a site, worked out once: the rules' and GET /rules' source."""
        noise = self.noise_standard(site)
        return SiteLimits(
            noise_limit(noise, site.zone, Period.DAY),
            noise_limit(noise, site.zone, Period.NIGHT),
            night_max_limit(noise, site.zone),
            tuple(self.fume_limits(site)),
            purifier_limit(self.fume_standard_of(site), site.cooking_heads),
        )

    def limits(self, site: Site, noise: bool, fume: bool) -> list[Limit]:
        """Every limit in force at a site, for GET /rules."""
        limits = self.site_limits(site)
        out: list[Limit] = []
        if noise:
            out += [limits.noise_day, limits.noise_night, limits.night_max]
        if fume:
            out += [*limits.fume, limits.purifier]
        return out


class SiteLimits(NamedTuple):
    """The limits in force at one site (its standards, zone class and size class applied)."""

    noise_day: Limit  # LAeq by day
    noise_night: Limit  # LAeq by night
    night_max: Limit  # LAmax by night (GB 3096-2008 §5.4)
    fume: tuple[Limit, ...]  # concentration limits, oil fume first
    purifier: Limit  # the limit a fan without its purifier counts as breaking

    def noise(self, period: Period) -> Limit:
        """The LAeq limit by day or by night."""
        return self.noise_night if period is Period.NIGHT else self.noise_day

    def noise_in_force(self, calendar: Calendar, ts_ms: int, period_s: int) -> Limit:
        """The LAeq limit in force for a reading ending at `ts_ms` after `period_s`.

        The one place that decides it: the breach rules judge by it and ingest writes its
        value as `limit_db` (and `exceed_s`) with the reading, so a dashboard's limit line
        and a case's evidence name the same number (the period's midpoint decides day or
        night: rules/localtime.py).
        """
        return self.noise(calendar.period_of(ts_ms, period_s))
