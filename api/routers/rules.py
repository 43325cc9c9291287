"""`/api/v1/rules`: the rules and limits in force per site, and backtests on stored history."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Final

from fastapi import APIRouter, Query

from linli.api.case_schemas import LimitOut, SiteRulesOut, WouldOpen
from linli.api.params import parse_time_ms
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.history import readings_of
from linli.rules.constants import M_FUME, M_NOISE
from linli.rules.events import BREACH_RULES, DEVICE_RULES, RuleId
from linli.rules.judge import SensorState, judge_reading, new_series
from linli.rules.reading import Reading, SensorKind
from linli.rules.series import Series
from linli.store import NotFound

router = APIRouter(prefix="/rules", tags=["rules"])

# Readings one backtest may replay: about a week of 100 one-minute sensors.
MAX_BACKTEST_POINTS: Final = 1_000_000


@router.get("")
def list_rules(scope: ScopeDep, services: ServicesDep) -> list[SiteRulesOut]:
    """For every site in scope: its rules, standards and limits with their clauses."""
    policy = services.policy
    kinds: dict[str, set[SensorKind]] = defaultdict(set)
    for sensor in scope.sensors():
        kinds[sensor.site].add(sensor.kind)
    out = []
    for site in scope.sites():
        k = kinds.get(site.id, set())
        noise, fume = SensorKind.NOISE in k, SensorKind.FUME in k
        rules = [r.value for kind in sorted(k) for r in BREACH_RULES[kind]]
        rules += [r.value for r in DEVICE_RULES] if k else []
        out.append(
            SiteRulesOut(
                site=site.id,
                rules=rules,
                noise_standard=str(policy.noise_standard(site)) if noise else None,
                fume_standard=str(policy.fume_standard_of(site)) if fume else None,
                limits=[LimitOut.model_validate(x) for x in policy.limits(site, noise, fume)],
            )
        )
    return out


@router.get("/{rule_id}/backtest")
def backtest(
    rule_id: RuleId,
    scope: ScopeDep,
    services: ServicesDep,
    from_: Annotated[str, Query(alias="from", description="RFC 3339 or epoch ms")],
    to: Annotated[str, Query(description="RFC 3339 or epoch ms, exclusive")],
    site: str | None = None,
) -> list[WouldOpen]:
    """Replay stored readings through the rules; list the cases `rule_id` would open. Opens none."""
    since, until = parse_time_ms("from", from_), parse_time_ms("to", to)
    sites = {s.id: s for s in scope.sites()}
    if site is not None and site not in sites:
        raise NotFound(f"site {site!r} does not exist")
    sensors = {s.id: s for s in scope.sensors() if site is None or s.site == site}
    where = f"WHERE time >= {since}ms AND time < {until}ms"
    readings: list[Reading] = []
    for measurement, kind in ((M_NOISE, SensorKind.NOISE), (M_FUME, SensorKind.FUME)):
        q = f'SELECT * FROM "{measurement}" {where} LIMIT {MAX_BACKTEST_POINTS}'
        readings += readings_of(services.influx.query(q), kind)
    readings = [r for r in readings if r.sensor in sensors]
    readings.sort(key=lambda r: (r.sensor, r.ts_ms))
    found: dict[tuple[str, str], WouldOpen] = {}
    states: dict[str, SensorState] = {}
    series: dict[str, Series] = {}
    for r in readings:
        s = sites[sensors[r.sensor].site]
        state = states.get(r.sensor) or SensorState(r.sensor)
        if r.sensor not in series:
            series[r.sensor] = new_series(services.policy, r.kind)
        states[r.sensor], events = judge_reading(
            services.policy, s, state, series[r.sensor], r, r.ts_ms
        )
        for e in events:
            if e.rule is not rule_id or e.breach is None:
                continue
            key = (s.id, e.rule.value)
            b = e.breach
            if key in found:
                found[key].occurrences += 1
                continue
            found[key] = WouldOpen(
                site=s.id,
                rule=e.rule.value,
                sensor=b.sensor,
                first_ms=b.end_ms,
                occurrences=1,
                measured=b.measured,
                limit_value=None if b.limit is None else b.limit.value,
                clause_zh=None if b.limit is None else b.limit.clause_zh,
                summary=b.summary,
            )
    return list(found.values())
