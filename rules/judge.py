"""The rules: pure functions of (window of readings, prior state, now) (STYLE §5).

`evaluate(rule, window, state, now_ms)` judges one breach rule at the end of a window
and returns the rule's next state with the breach that began, if any. `judge_reading`
runs a sensor's device checks and then its breach rules for one new reading;
`judge_silence` finds sensors that went quiet and `judge_status` acts on a status message
(the last will: offline at once; back online: recovered).
A sensor with a device fault is judged by no breach rule (CONTRACT §5): its readings
neither open nor close breach cases until it recovers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple

from linli.rules import series as cols
from linli.rules.energy import level_of
from linli.rules.limits import Limit, Period
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Site
from linli.rules.series import Series, fan_running


class RuleId(StrEnum):
    """The rules linli runs; a case's identity is (site, rule)."""

    NOISE_LEQ = "noise_leq"
    NOISE_NIGHT_MAX = "noise_night_max"
    FUME_CONC = "fume_conc"
    PURIFIER_OFF = "purifier_off"
    DEVICE_OFFLINE = "device_offline"
    DEVICE_STUCK = "device_stuck"
    DEVICE_IMPLAUSIBLE = "device_implausible"


BREACH_RULES: Final = {
    SensorKind.NOISE: (RuleId.NOISE_LEQ, RuleId.NOISE_NIGHT_MAX),
    SensorKind.FUME: (RuleId.FUME_CONC, RuleId.PURIFIER_OFF),
}
DEVICE_RULES: Final = (RuleId.DEVICE_OFFLINE, RuleId.DEVICE_STUCK, RuleId.DEVICE_IMPLAUSIBLE)


class Signal(StrEnum):
    """What the judge tells the engine."""

    BREACH = "breach"  # a breach began (or, for noise_night_max, one more event)
    CLEAR = "clear"  # the breach ended
    FAULT = "fault"  # a device fault began
    RECOVER = "recover"  # the device fault ended


@dataclass(frozen=True, slots=True)
class Breach:
    """A rule broken: where, when, by how much, against which limit (the case's evidence)."""

    rule: RuleId
    site: str
    sensor: str
    start_ms: int
    end_ms: int
    measured: float
    unit: str
    limit: Limit | None
    summary: str
    late: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    """One thing the engine must act on; `breach` is set for BREACH and FAULT."""

    signal: Signal
    rule: RuleId
    site: str
    sensor: str
    ts_ms: int
    breach: Breach | None = None


# RuleState, Window and SensorState are NamedTuples rather than frozen dataclasses: as
# immutable, but built at C speed — the judge makes them for every reading linli stores.


class RuleState(NamedTuple):
    """A rule's memory for one sensor: whether a breach is on, and since when it was over."""

    active: bool = False
    since_ms: int | None = None


class Window(NamedTuple):
    """A sensor's trusted readings (`series`) as of `current`, the reading being judged.

    The rules look at the series only up to `current`'s time: a late reading is judged
    as things stood at its own time.
    """

    site: Site
    limits: SiteLimits  # the site's, from RulePolicy.site_limits
    sensor: str
    series: Series
    current: Reading
    period: Period  # day or night at `current`, local time
    period_bounds: tuple[int, int]  # when that day or night begins and ends [start, end)
    late: bool = False


class SensorState(NamedTuple):
    """Everything the rules remember about one sensor; survives restarts via the store."""

    sensor: str
    recent: tuple[Reading, ...] = ()  # the last readings, trusted or not (stuck detection)
    rules: Mapping[RuleId, RuleState] = MappingProxyType({})
    faults: frozenset[RuleId] = frozenset()
    last_seen_ms: int | None = None  # wall time the last reading was judged
    period_s: int = 60
    watermark_ms: int | None = None  # the newest reading time judged (replay starts after it)


_IDLE: Final = RuleState()  # a rule with nothing going on (not saved)

Outcome = tuple[RuleState, Breach | None, bool]  # next state, breach begun, breach cleared


def _num(r: Reading, metric: str) -> float | None:
    value = r.metrics.get(metric)
    if value is None or isinstance(value, bool):
        return None
    return float(value)


def _start(r: Reading) -> int:
    """When a reading's period began."""
    return r.ts_ms - r.period_s * 1000


def _episode(
    state: RuleState, over: bool, clear: bool, end_ms: int, sustain_ms: int
) -> tuple[RuleState, bool, bool]:
    """Sustain and hysteresis, shared by the rules: (next state, began, cleared)."""
    if state.active:
        return (RuleState(), False, True) if clear else (state, False, False)
    if not over:
        return RuleState(), False, False
    since = end_ms if state.since_ms is None else state.since_ms
    if end_ms - since >= sustain_ms:
        return RuleState(True, since), True, False
    return RuleState(False, since), False, False


def noise_leq(policy: RulePolicy, window: Window, state: RuleState, now_ms: int) -> Outcome:
    """The rolling energetic LAeq above the day or night limit, sustained; hysteresis to clear.

    GB 3096-2008 judges day and night apart, so the window holds only readings of the
    judged reading's own period; levels are compared as reported, to 0.1 dB.
    """
    del now_ms  # readings are judged by their own timestamps
    end = window.current.ts_ms
    period = window.period
    begins_ms, ends_ms = window.period_bounds
    limit = window.limits.noise(period)
    series = window.series
    i, j = series.span(max(end - policy.leq_window_s * 1000, begins_ms - 1), end)
    covered_s = series.total(cols.T, i, j)
    if covered_s <= 0 or covered_s < policy.min_coverage * policy.leq_window_s:
        return state, None, False
    # the energetic mean from the window's running sums (rules/energy.py)
    measured = round(level_of(series.total(cols.E, i, j), covered_s), 1)
    if state.since_ms is not None and not begins_ms <= state.since_ms < ends_ms:
        state = RuleState()  # day and night are judged apart: a new period, a new episode
    over = measured > limit.value
    clear = measured <= limit.value - policy.leq_hysteresis_db
    nxt, began, cleared = _episode(state, over, clear, end, policy.leq_sustain_s * 1000)
    breach = None
    if began:
        minutes = policy.leq_window_s / 60
        breach = Breach(
            RuleId.NOISE_LEQ,
            window.site.id,
            window.sensor,
            min(_start(series.readings[i]), nxt.since_ms or end),
            end,
            measured,
            "dB(A)",
            limit,
            f"LAeq over {minutes:g} min {measured:.1f} dB(A) > {limit.value:g} dB(A) ({period})",
            window.late,
        )
    return nxt, breach, cleared


def noise_night_max(policy: RulePolicy, window: Window, state: RuleState, now_ms: int) -> Outcome:
    """At night, LAmax above the night limit + 15 dB(A) (GB 3096-2008 §5.4): each one counts."""
    del now_ms
    r = window.current
    if window.period is not Period.NIGHT:
        return _IDLE, None, False
    lamax = _num(r, "lamax")
    if lamax is None:
        return _IDLE, None, False
    limit = window.limits.night_max
    if lamax <= limit.value:
        return _IDLE, None, state.active
    breach = Breach(
        RuleId.NOISE_NIGHT_MAX,
        window.site.id,
        window.sensor,
        r.ts_ms - r.period_s * 1000,
        r.ts_ms,
        lamax,
        "dB(A)",
        limit,
        f"night LAmax {lamax:.1f} dB(A) > {limit.value:g} dB(A)",
        window.late,
    )
    return RuleState(True, r.ts_ms), breach, False


def fume_conc(policy: RulePolicy, window: Window, state: RuleState, now_ms: int) -> Outcome:
    """The mean concentration over the window, while the fan runs, above a limit in force."""
    del now_ms
    r = window.current
    outside_hours = policy.fume_business_hours_only and not policy.calendar.in_business_hours(
        r.ts_ms
    )
    if not fan_running(r) or outside_hours:
        return RuleState(), None, state.active
    end = window.current.ts_ms
    series = window.series
    i, j = series.span(end - policy.fume_window_s * 1000, end)
    fan_s = series.total(cols.FAN_T, i, j)
    if fan_s <= 0 or fan_s < policy.min_coverage * policy.fume_window_s:
        return state, None, False
    worst: tuple[float, Limit] | None = None
    for limit in window.limits.fume:
        column = cols.fume_column(limit.metric)
        count = series.total(column + 1, i, j)
        if count < 0.5:  # no reading in the window carries this metric
            continue
        mean = round(series.total(column, i, j) / count, 2)
        if mean > limit.value and worst is None:
            worst = (mean, limit)
    nxt, began, cleared = _episode(state, worst is not None, worst is None, end, 0)
    breach = None
    if began and worst is not None:
        mean, limit = worst
        breach = Breach(
            RuleId.FUME_CONC,
            window.site.id,
            window.sensor,
            _start(next(x for x in series.readings[i:j] if fan_running(x))),
            end,
            mean,
            limit.unit,
            limit,
            f"{limit.metric} mean over {policy.fume_window_s / 60:g} min {mean:.2f} "
            f"mg/m³ > {limit.value:g} mg/m³",
            window.late,
        )
    return nxt, breach, cleared


def _purifier_off(policy: RulePolicy, r: Reading) -> bool | None:
    if "fan_on" not in r.metrics:
        return None
    if r.metrics["fan_on"] is not True:
        return False
    current = _num(r, "purifier_current")
    if current is not None:
        return current < policy.purifier_current_min_a
    state = r.metrics.get("purifier_on")
    return None if state is None else state is not True


def purifier_off(policy: RulePolicy, window: Window, state: RuleState, now_ms: int) -> Outcome:
    """Fan running, purifier off, for `purifier_off_s` in business hours (GB 18483-2001 §5.1)."""
    del now_ms
    r = window.current
    off = _purifier_off(policy, r)
    if off is None:
        return state, None, False
    off = off and policy.calendar.in_business_hours(r.ts_ms)
    began_ms = r.ts_ms - r.period_s * 1000
    since_state = state if state.since_ms is not None or not off else RuleState(False, began_ms)
    nxt, began, cleared = _episode(since_state, off, not off, r.ts_ms, policy.purifier_off_s * 1000)
    breach = None
    if began:
        since = nxt.since_ms if nxt.since_ms is not None else began_ms
        minutes = (r.ts_ms - since) / 60_000
        breach = Breach(
            RuleId.PURIFIER_OFF,
            window.site.id,
            window.sensor,
            since,
            r.ts_ms,
            round(minutes, 1),
            "min",
            window.limits.purifier,
            f"fan running with the purifier off for {minutes:g} min",
            window.late,
        )
    return nxt, breach, cleared


RULES: Final = {
    RuleId.NOISE_LEQ: noise_leq,
    RuleId.NOISE_NIGHT_MAX: noise_night_max,
    RuleId.FUME_CONC: fume_conc,
    RuleId.PURIFIER_OFF: purifier_off,
}
# each kind's breach rules with their functions, in order (the judge's loop)
_CHECKS: Final = {kind: tuple((x, RULES[x]) for x in ids) for kind, ids in BREACH_RULES.items()}


def evaluate(
    rule: RuleId, policy: RulePolicy, window: Window, state: RuleState, now_ms: int
) -> Outcome:
    """Judge one breach rule at the end of `window`."""
    return RULES[rule](policy, window, state, now_ms)


# -- device checks ---------------------------------------------------------------------


def _identical(a: Reading, b: Reading) -> bool:
    return a.metrics == b.metrics


def stuck_run(policy: RulePolicy, recent: Sequence[Reading]) -> tuple[Reading, ...]:
    """The readings proving a stuck sensor, or () when it is not stuck.

    LAmin = LAmax over a period of a minute or more is physically impossible outdoors;
    so are `stuck_repeats` identical readings in a row (for fume: with fume in them).
    """
    r = recent[-1]
    lamin = r.metrics.get("lamin")
    if lamin is not None and r.period_s >= 60 and lamin == r.metrics.get("lamax"):
        return (r,)
    n = policy.stuck_repeats
    if n < 2 or len(recent) < n or recent[-2].metrics != r.metrics:
        return ()
    run = tuple(recent[-n:])
    if not all(_identical(run[0], x) for x in run[1:-1]):
        return ()
    if r.kind is SensorKind.FUME and not (_num(r, "oil_fume") or 0) > 0:
        return ()
    return run


def implausible(policy: RulePolicy, r: Reading) -> str | None:
    """Why a reading cannot be real (a blocked or tampered sensor), or None."""
    laeq = r.metrics.get("laeq")
    if laeq is not None and laeq < policy.implausible_laeq_below_db:
        return (
            f"LAeq {laeq:g} dB(A) below {policy.implausible_laeq_below_db:g}: too quiet to be real"
        )
    fume = r.metrics.get("oil_fume")
    if fume is not None and fume > policy.implausible_fume_above_mg:
        return f"oil fume {fume:g} mg/m³ above {policy.implausible_fume_above_mg:g}"
    return None


def _device_breach(
    rule: RuleId,
    site: Site,
    sensor: str,
    start_ms: int,
    end_ms: int,
    measured: float,
    unit: str,
    summary: str,
) -> Breach:
    return Breach(rule, site.id, sensor, start_ms, end_ms, measured, unit, None, summary)


def keep_ms(policy: RulePolicy) -> int:
    """How much reading time a sensor's series holds: the rules' longest window."""
    return 1000 * max(policy.leq_window_s, policy.fume_window_s)


def new_series(policy: RulePolicy, kind: SensorKind) -> Series:
    """An empty series for a sensor of `kind`, as long as the rules need."""
    return Series(kind, keep_ms(policy))


def judge_reading(
    policy: RulePolicy, site: Site, state: SensorState, series: Series, r: Reading, now_ms: int
) -> tuple[SensorState, list[Event]]:
    """Device checks, then the breach rules of the sensor's kind, for one new reading."""
    return judge_readings(policy, site, state, series, (r,), now_ms)


def judge_readings(
    policy: RulePolicy,
    site: Site,
    state: SensorState,
    series: Series,
    readings: Sequence[Reading],
    now_ms: int,
    limits: SiteLimits | None = None,
) -> tuple[SensorState, list[Event]]:
    """Judge one sensor's readings in order: device checks, then its kind's breach rules.

    `series` is the sensor's trusted readings so far; each trusted reading is added to
    it (the one thing changed in place: the engine's memory of readings, not rule
    state). A reading judged already (redelivered by the broker after a crash, or
    replayed from InfluxDB and then redelivered) changes nothing. One call per sensor
    and batch: this loop runs for every reading linli stores. `limits` are the site's
    (`policy.site_limits(site)`, which a caller judging many batches keeps).
    """
    if limits is None:
        limits = policy.site_limits(site)
    events: list[Event] = []
    sensor = state.sensor
    faults = set(state.faults)
    rules = dict(state.rules)
    recent = list(state.recent)
    keep_recent = max(policy.stuck_repeats, 1)
    watermark = state.watermark_ms
    late_ms = policy.late_after_s * 1000
    period_s = state.period_s
    calendar = policy.calendar
    minute, period, bounds = -1, Period.DAY, (0, 0)
    judged = False
    for r in readings:
        if watermark is not None and r.ts_ms <= watermark and _seen(r, recent, series):
            continue
        judged = True
        period_s = r.period_s
        if RuleId.DEVICE_OFFLINE in faults:
            faults.discard(RuleId.DEVICE_OFFLINE)
            events.append(Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, sensor, r.ts_ms))
        recent.append(r)
        if len(recent) > keep_recent:
            del recent[0]
        metrics = r.metrics
        # the common case at C speed: not the same as the last reading, LAmin ≠ LAmax
        maybe_stuck = (len(recent) > 1 and recent[-2].metrics == metrics) or (
            "lamin" in metrics and metrics["lamin"] == metrics.get("lamax")
        )
        run = stuck_run(policy, recent) if maybe_stuck else ()
        why = implausible(policy, r)
        if run or why is not None or faults:
            _device_checks(site, sensor, r, run, why, faults, events)
        if run:  # the stuck run is no evidence of anything but the fault
            series.discard(x.ts_ms for x in run)
        if not faults:
            series.add(r)
            if r.ts_ms // 60_000 != minute:  # day or night: the same within a minute
                minute = r.ts_ms // 60_000
                period = calendar.period(r.ts_ms)
                bounds = calendar.period_bounds(r.ts_ms)
            late = now_ms - r.ts_ms > late_ms
            window = Window(site, limits, sensor, series, r, period, bounds, late)
            for rule, check in _CHECKS[r.kind]:
                nxt, breach, cleared = check(policy, window, rules.get(rule, _IDLE), now_ms)
                if nxt == _IDLE:
                    rules.pop(rule, None)
                else:
                    rules[rule] = nxt
                if breach is not None:
                    events.append(Event(Signal.BREACH, rule, site.id, sensor, r.ts_ms, breach))
                elif cleared:
                    events.append(Event(Signal.CLEAR, rule, site.id, sensor, r.ts_ms))
        watermark = r.ts_ms if watermark is None or r.ts_ms > watermark else watermark
    if not judged:
        return state, events
    new = SensorState(sensor, tuple(recent), rules, frozenset(faults), now_ms, period_s, watermark)
    return new, events


def _seen(r: Reading, recent: Sequence[Reading], series: Series) -> bool:
    """Whether this very reading (time and seq) was judged already: a redelivery."""
    return any(x.ts_ms == r.ts_ms and x.seq == r.seq for x in recent) or series.has(r)


def _device_checks(
    site: Site,
    sensor: str,
    r: Reading,
    run: tuple[Reading, ...],
    why: str | None,
    faults: set[RuleId],
    events: list[Event],
) -> None:
    """Open or end the stuck and implausible faults (`faults` and `events` updated)."""
    checks = (
        (RuleId.DEVICE_STUCK, bool(run), f"{len(run)} identical readings", float(len(run))),
        (RuleId.DEVICE_IMPLAUSIBLE, why is not None, why or "", _num(r, "laeq") or 0.0),
    )
    for rule, faulty, summary, measured in checks:
        if faulty and rule not in faults:
            faults.add(rule)
            start = (run[0] if run else r).ts_ms - r.period_s * 1000
            fault = _device_breach(rule, site, sensor, start, r.ts_ms, measured, "", summary)
            events.append(Event(Signal.FAULT, rule, site.id, sensor, r.ts_ms, fault))
        elif not faulty and rule in faults:
            faults.discard(rule)
            events.append(Event(Signal.RECOVER, rule, site.id, sensor, r.ts_ms))


def judge_silence(
    policy: RulePolicy, site: Site, state: SensorState, now_ms: int, will: bool = False
) -> tuple[SensorState, list[Event]]:
    """Offline: no reading for `offline_periods` periods, or the broker published the last will."""
    if RuleId.DEVICE_OFFLINE in state.faults or state.last_seen_ms is None:
        return state, []
    silent_ms = now_ms - state.last_seen_ms
    if not will and silent_ms <= policy.offline_periods * state.period_s * 1000:
        return state, []
    summary = (
        "status offline: the last will (the device dropped off the broker) or its own word"
        if will
        else f"no reading for {silent_ms / 60_000:.1f} min ({policy.offline_periods} periods)"
    )
    breach = _device_breach(
        RuleId.DEVICE_OFFLINE,
        site,
        state.sensor,
        state.last_seen_ms,
        now_ms,
        round(silent_ms / 60_000, 1),
        "min",
        summary,
    )
    new = state._replace(faults=state.faults | {RuleId.DEVICE_OFFLINE})
    return new, [Event(Signal.FAULT, RuleId.DEVICE_OFFLINE, site.id, state.sensor, now_ms, breach)]


def judge_status(
    policy: RulePolicy, site: Site, state: SensorState, status: DeviceStatus, now_ms: int
) -> tuple[SensorState, list[Event]]:
    """A status message: `online: false` (the last will) is offline at once; `online: true`
    newer than the last reading ends an offline fault (a retained old one does not)."""
    if not status.online:
        return judge_silence(policy, site, state, now_ms, will=True)
    if RuleId.DEVICE_OFFLINE not in state.faults:
        return state, []
    newest = max((r.ts_ms for r in state.recent), default=None)
    if newest is not None and status.ts_ms < newest:
        return state, []
    new = state._replace(faults=state.faults - {RuleId.DEVICE_OFFLINE})
    return new, [Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, state.sensor, now_ms)]
