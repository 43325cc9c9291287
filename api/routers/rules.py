"""`/api/v1/rules`: the rules and limits in force per site, and backtests on stored history."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Query

from linli.api.case_schemas import LimitOut, SiteRulesOut, WouldOpen
from linli.api.params import TIME, IdQuery, parse_time_ms
from linli.api.scope import ScopeDep
from linli.api.services import ServicesDep
from linli.api.telemetry import sensors_rows
from linli.influx.history import readings_of
from linli.rules.events import BREACH_RULES, DEVICE_RULES, Event, RuleId, Signal
from linli.rules.judge import SensorState, judge_readings, new_series
from linli.rules.reading import Reading, SensorKind
from linli.store import NotFound

router = APIRouter(prefix="/rules", tags=["rules"])


@router.get("")
def list_rules(scope: ScopeDep, services: ServicesDep) -> list[SiteRulesOut]:
    """For every site in scope: its rules, standards and limits with their clauses (by its
    community's `[rules]`, CONTRACT §9)."""
    kinds: dict[str, set[SensorKind]] = defaultdict(set)
    for sensor in scope.sensors():
        kinds[sensor.site].add(sensor.kind)
    out = []
    for site in scope.sites():
        k = kinds.get(site.id, set())
        noise, fume = SensorKind.NOISE in k, SensorKind.FUME in k
        policy = services.policy.of(scope.community_of_grid(site.grid))
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
    from_: Annotated[str, Query(alias="from", **TIME, description="RFC 3339 or epoch ms")],
    to: Annotated[str, Query(**TIME, description="RFC 3339 or epoch ms, exclusive")],
    site: IdQuery = None,
) -> list[WouldOpen]:
    """Replay stored readings through the rules; list the cases `rule_id` would open. Opens none."""
    since, until = parse_time_ms("from", from_), parse_time_ms("to", to)
    sites = {s.id: s for s in scope.sites()}
    if site is not None and site not in sites:
        raise NotFound(f"site {site!r} does not exist")
    sensors = {s.id: s for s in scope.sensors() if site is None or s.site == site}
    by_sensor: dict[str, list[Reading]] = defaultdict(list)
    for kind in (SensorKind.NOISE, SensorKind.FUME):
        # scoped before the read: the query names only the caller's sensors of this kind
        ids = [s.id for s in sensors.values() if s.kind is kind]
        rows = sensors_rows(services.influx, kind, ids, since, until, services.max_backtest_points)
        for r in readings_of(rows, kind):
            if r.sensor in sensors:
                by_sensor[r.sensor].append(r)
    events: list[tuple[str, Event]] = []  # (site, event)
    for sensor, run in sorted(by_sensor.items()):
        run.sort(key=lambda r: r.ts_ms)
        s = sites[sensors[sensor].site]
        policy = services.policy.of(scope.community_of_grid(s.grid))  # its community's
        series = new_series(policy, run[0].kind)
        # one call per sensor, judged as the engine judges a round; `now` is the end of
        # the history, so what the cases would say of late data does not apply here
        _, judged = judge_readings(policy, s, SensorState(sensor), series, run, run[-1].ts_ms)
        events += [(s.id, e) for e in judged]
    events.sort(key=lambda x: x[1].ts_ms)  # in time order across sensors, as they happened
    found: dict[tuple[str, str], WouldOpen] = {}
    for site_id, e in events:
        if e.rule is not rule_id or e.signal is not Signal.BREACH:
            continue  # an episode's EXTEND and CLEAR are the same occurrence
        assert e.breach is not None
        key = (site_id, e.rule.value)
        b = e.breach
        if key in found:
            found[key].occurrences += 1
            continue
        found[key] = WouldOpen(
            site=site_id,
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
