"""Does what the sensors measured bear a resident's complaint out? Pure (CONTRACT §7).

`corroborate` judges a complaint's window on the sensors that could have heard or smelt
it, as GB 3096 / GB 22337 and GB 18483 would: the energetic Leq of each day or night part
of the window against the LAeq limit in force then (GB 3096-2008 表1, by the site's zone
class and standard), the night LAmax against the night limit + 15 (GB 3096-2008 §5.4), the mean
oil-fume concentration while the fan ran against the limit (GB 18483-2001 表2), and the
fan running with the purifier off (GB 18483-2001 §5.1, "installed but not used").

Verdicts: `corroborated` (a sensor shows a breach), `not_corroborated` (a sensor reported
enough of the window and shows none: an on-site check is asked for, the complaint is never
closed on it), `data_gap` (sensors are there but none reported `min_coverage` of the
window: offline, or the readings have not arrived yet; re-judged when they do), and
`no_coverage` (no sensor of the kind at or near the site). Flagged readings (CONTRACT §8)
cover nothing: a window of maintenance data is a `data_gap`.

Coverage is the time the readings measured (Σ period_s of the window's readings, each
clipped to the window) over the window's length. 0.75 by default, HJ 906's often quoted
valid-data rate (unconfirmed, hence the community file's `[complaints] min_coverage`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from linli.rules.energy import energetic_mean
from linli.rules.limits import Limit, Period
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind, monitoring, numeric
from linli.rules.registry import Sensor, Site

DEFAULT_MIN_COVERAGE: Final = 0.75
# The part of the fan's running time the purifier may be off before the complaint is borne
# out by "installed but not used" (one purifier_off rule window of 10 min in 30 is a third).
PURIFIER_OFF_SHARE: Final = 1 / 3
MAX_EVIDENCE_READINGS: Final = 4000  # as rules/engine/evidence.MAX_SNAPSHOT_READINGS


class Verdict(StrEnum):
    """CONTRACT §7's verdicts."""

    CORROBORATED = "corroborated"
    NOT_CORROBORATED = "not_corroborated"
    NO_COVERAGE = "no_coverage"
    DATA_GAP = "data_gap"


# Which verdict speaks for a complaint when its sensors disagree: a breach anywhere wins.
_RANK: Final = {
    Verdict.CORROBORATED: 3,
    Verdict.NOT_CORROBORATED: 2,
    Verdict.DATA_GAP: 1,
    Verdict.NO_COVERAGE: 0,
}


@dataclass(frozen=True, slots=True)
class Corroboration:
    """A complaint's verdict with its numbers: what a person checks, and the evidence."""

    verdict: Verdict
    from_ms: int
    to_ms: int
    summary: str  # zh-CN, with the numbers
    sensor: str | None = None
    site: str | None = None  # the sensor's site
    metric: str | None = None
    measured: float | None = None
    unit: str = ""
    limit: float | None = None
    standard: str | None = None
    clause: str | None = None
    coverage: float | None = None  # the sensor's share of the window in readings
    readings: tuple[Reading, ...] = field(default=(), repr=False)

    @property
    def on_site_check(self) -> bool:
        """Whether a person must look: the sensors do not (or cannot) bear it out."""
        return self.verdict is not Verdict.CORROBORATED


def coverage(readings: Sequence[Reading], from_ms: int, to_ms: int) -> float:
    """The share of [from, to) the readings measured (each `[ts − period_s, ts)`, clipped)."""
    span = to_ms - from_ms
    if span <= 0:
        return 0.0
    covered = 0
    for r in readings:
        start = max(r.ts_ms - r.period_s * 1000, from_ms)
        end = min(r.ts_ms, to_ms)
        covered += max(0, end - start)
    return min(1.0, covered / span)


def in_window(readings: Sequence[Reading], from_ms: int, to_ms: int) -> list[Reading]:
    """The readings whose period ends inside (from, to] (InfluxDB's `time > from AND ≤ to`)."""
    return [r for r in readings if from_ms < r.ts_ms <= to_ms]


def corroborate(
    kind: SensorKind,
    from_ms: int,
    to_ms: int,
    sensors: Sequence[tuple[Sensor, Site]],
    readings: Mapping[str, Sequence[Reading]],
    policy: RulePolicy,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> Corroboration:
    """The verdict on a complaint of `kind` over [from, to) from these sensors' readings.

    `sensors` are the sensors of the kind at the complaint's site and its neighbours, each
    with its site (whose zone and standard set the limit); `readings` each one's readings
    of the window (more are ignored). The strongest verdict wins: a breach on any sensor,
    else a sensor that reported enough and saw none, else a gap; between sensors of the
    same verdict, the first site's (the complaint's own: what the resident hears), and on
    one site the sensor nearest a breach.
    """
    if not sensors:
        return Corroboration(
            Verdict.NO_COVERAGE,
            from_ms,
            to_ms,
            f"该处没有{_KIND_ZH[kind]}传感器, 无法用监测数据印证, 需现场核查",
        )
    best: Corroboration | None = None
    for sensor, site in sensors:
        # flagged readings (CONTRACT §8) are no monitoring data: they cover nothing
        window = [
            r for r in in_window(readings.get(sensor.id, ()), from_ms, to_ms) if monitoring(r)
        ]
        judged = _judge_sensor(kind, sensor, site, window, from_ms, to_ms, policy, min_coverage)
        if best is None or _better(judged, best):
            best = judged
    assert best is not None
    return best


def _better(a: Corroboration, b: Corroboration) -> bool:
    if _RANK[a.verdict] != _RANK[b.verdict]:
        return _RANK[a.verdict] > _RANK[b.verdict]
    if a.site != b.site:
        return False  # the earlier site speaks (the sensors come in the sites' order)
    # the same verdict on one site: the sensor nearest a breach (measured − limit) speaks
    return _excess(a) > _excess(b)


def _excess(c: Corroboration) -> float:
    if c.measured is None or c.limit is None:
        return (c.coverage or 0.0) - 1e6  # no limit to compare with: the best covered
    return c.measured - c.limit


_KIND_ZH: Final = {SensorKind.NOISE: "噪声", SensorKind.FUME: "油烟"}


def _judge_sensor(
    kind: SensorKind,
    sensor: Sensor,
    site: Site,
    window: list[Reading],
    from_ms: int,
    to_ms: int,
    policy: RulePolicy,
    min_coverage: float,
) -> Corroboration:
    share = coverage(window, from_ms, to_ms)
    evidence = _evidence(window)
    if share < min_coverage:
        return Corroboration(
            Verdict.DATA_GAP,
            from_ms,
            to_ms,
            f"传感器 {sensor.id} 在投诉时段只报告了 {share:.0%} 的数据 (需 ≥ {min_coverage:.0%}): "
            "离线或数据未到, 数据到达后重新判定",
            sensor=sensor.id,
            site=site.id,
            coverage=share,
            readings=evidence,
        )
    if kind is SensorKind.NOISE:
        return _judge_noise(sensor, site, window, from_ms, to_ms, policy, share, evidence)
    return _judge_fume(sensor, site, window, from_ms, to_ms, policy, share, evidence)


def _evidence(window: list[Reading]) -> tuple[Reading, ...]:
    if len(window) <= MAX_EVIDENCE_READINGS:
        return tuple(window)
    half = MAX_EVIDENCE_READINGS // 2
    return (*window[:half], *window[-half:])


def _judge_noise(
    sensor: Sensor,
    site: Site,
    window: list[Reading],
    from_ms: int,
    to_ms: int,
    policy: RulePolicy,
    share: float,
    evidence: tuple[Reading, ...],
) -> Corroboration:
    """GB 3096 judges day and night apart: each part's Leq against its own limit."""
    limits = policy.site_limits(site)
    calendar: Calendar = policy.calendar
    parts: dict[Period, list[Reading]] = {}
    for r in window:
        parts.setdefault(calendar.period_of(r.ts_ms, r.period_s), []).append(r)
    checks: list[tuple[float, float, Limit]] = []  # (measured, excess, limit)
    for period, readings in parts.items():
        levels = [(v, float(r.period_s)) for r in readings if (v := numeric(r, "laeq")) is not None]
        if levels:
            leq = round(energetic_mean([v for v, _ in levels], [t for _, t in levels]), 1)
            limit = limits.noise(period)
            checks.append((leq, leq - limit.value, limit))
        if period is Period.NIGHT:
            peaks = [v for r in readings if (v := numeric(r, "lamax")) is not None]
            if peaks:
                peak = max(peaks)
                checks.append((peak, peak - limits.night_max.value, limits.night_max))
    if not checks:
        return Corroboration(
            Verdict.DATA_GAP,
            from_ms,
            to_ms,
            f"传感器 {sensor.id} 在投诉时段没有声级数据",
            sensor=sensor.id,
            site=site.id,
            coverage=share,
            readings=evidence,
        )
    measured, excess, limit = max(checks, key=lambda c: c[1])
    what = "夜间最大声级 LAmax" if limit.metric == "lamax" else "等效声级 Leq"
    if excess > 0:
        verdict = Verdict.CORROBORATED
        summary = (
            f"投诉属实: {sensor.id} 测得{what} {measured:.1f} dB(A), 超过限值 "
            f"{limit.value:g} dB(A) {excess:.1f} dB ({limit.clause_zh})"
        )
    else:
        verdict = Verdict.NOT_CORROBORATED
        summary = (
            f"监测数据未印证: {sensor.id} 测得{what} {measured:.1f} dB(A), 未超过限值 "
            f"{limit.value:g} dB(A) ({limit.clause_zh}); 请现场核查"
        )
    return Corroboration(
        verdict,
        from_ms,
        to_ms,
        summary,
        sensor=sensor.id,
        site=site.id,
        metric=limit.metric,
        measured=measured,
        unit=limit.unit,
        limit=limit.value,
        standard=limit.standard,
        clause=limit.clause_zh,
        coverage=share,
        readings=evidence,
    )


def _purifier_off(r: Reading, policy: RulePolicy) -> bool:
    if r.metrics.get("purifier_on") is False:
        return True
    current = numeric(r, "purifier_current")
    return current is not None and current < policy.purifier_current_min_a


def _judge_fume(
    sensor: Sensor,
    site: Site,
    window: list[Reading],
    from_ms: int,
    to_ms: int,
    policy: RulePolicy,
    share: float,
    evidence: tuple[Reading, ...],
) -> Corroboration:
    """Mean concentration while the fan ran; the purifier off while it ran (GB 18483-2001 §5.1)."""
    limits = policy.site_limits(site)
    oil = limits.fume[0]
    cooking = [r for r in window if r.metrics.get("fan_on") is not False]
    values = [v for r in cooking if (v := numeric(r, oil.metric)) is not None]
    off_s = sum(r.period_s for r in cooking if r.metrics.get("fan_on") and _purifier_off(r, policy))
    fan_s = sum(r.period_s for r in cooking if r.metrics.get("fan_on"))
    common = {"sensor": sensor.id, "site": site.id, "coverage": share, "readings": evidence}
    if fan_s and off_s >= PURIFIER_OFF_SHARE * fan_s:
        purifier = limits.purifier
        minutes = round(off_s / 60, 1)
        return Corroboration(
            Verdict.CORROBORATED,
            from_ms,
            to_ms,
            f"投诉属实: {sensor.id} 风机运行 {fan_s / 60:.0f} 分钟, 其中净化器未开启 "
            f"{minutes:g} 分钟 ({purifier.clause_zh})",
            metric="purifier_off_min",
            measured=minutes,
            unit="min",
            limit=None,
            standard=purifier.standard,
            clause=purifier.clause_zh,
            **common,  # type: ignore[arg-type]
        )
    if not values:
        return Corroboration(
            Verdict.NOT_CORROBORATED,
            from_ms,
            to_ms,
            f"监测数据未印证: {sensor.id} 在投诉时段风机未运行 (未在烹饪); 请现场核查",
            metric=oil.metric,
            unit=oil.unit,
            limit=oil.value,
            standard=oil.standard,
            clause=oil.clause_zh,
            **common,  # type: ignore[arg-type]
        )
    mean = round(sum(values) / len(values), 2)
    over = mean > oil.value
    summary = (
        f"投诉属实: {sensor.id} 油烟平均浓度 {mean:g} mg/m³, 超过限值 {oil.value:g} mg/m³ "
        f"({oil.clause_zh})"
        if over
        else f"监测数据未印证: {sensor.id} 油烟平均浓度 {mean:g} mg/m³, 未超过限值 "
        f"{oil.value:g} mg/m³, 净化器运行正常 ({oil.clause_zh}); 请现场核查"
    )
    return Corroboration(
        Verdict.CORROBORATED if over else Verdict.NOT_CORROBORATED,
        from_ms,
        to_ms,
        summary,
        metric=oil.metric,
        measured=mean,
        unit=oil.unit,
        limit=oil.value,
        standard=oil.standard,
        clause=oil.clause_zh,
        **common,  # type: ignore[arg-type]
    )
