"""The rules: pure functions of (readings, prior state, now) (STYLE §5).

`evaluate(rule, policy, run, state)` judges a `Run` of a sensor's readings by one breach
rule, each reading by the window ending at its time, and returns the rule's next state
with the breaches that began and ended. `judge_readings` runs a sensor's device checks
reading by reading and hands the trusted readings between two device changes to its
breach rules as one run (`judge_reading`: one reading); `judge_silence` finds sensors
that went quiet and `judge_status` acts on a status message (the last will: offline at
once; back online: recovered).
A sensor with a device fault is judged by no breach rule (CONTRACT §5): its readings
neither open nor close breach cases until it recovers.
"""

from __future__ import annotations

import operator
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


# RuleState, Run and SensorState are NamedTuples rather than frozen dataclasses: as
# immutable, but built at C speed.


class RuleState(NamedTuple):
    """A rule's memory for one sensor: whether a breach is on, and since when it was over."""

    active: bool = False
    since_ms: int | None = None


class Run(NamedTuple):
    """A sensor's trusted readings to judge, in time order, with its series holding them.

    A rule judges each reading by the window ending at its time: the series holds the
    run's later readings too, but a window never looks past its own end, so a reading is
    judged as things stood at its time (also a late one).
    """

    site: Site
    limits: SiteLimits  # the site's, from RulePolicy.site_limits
    sensor: str
    series: Series
    readings: Sequence[Reading]
    now_ms: int  # when they are judged: a reading older than `late_after_s` is late data

    def breach(
        self,
        policy: RulePolicy,
        r: Reading,
        rule: RuleId,
        start_ms: int,
        measured: float,
        unit: str,
        limit: Limit,
        summary: str,
    ) -> Event:
        """The event of a breach that began at `r`, with its evidence (the window up to `r`)."""
        breach = Breach(
            rule,
            self.site.id,
            self.sensor,
            start_ms,
            r.ts_ms,
            measured,
            unit,
            limit,
            summary,
            self.late(policy, r),
        )
        return Event(Signal.BREACH, rule, self.site.id, self.sensor, r.ts_ms, breach)

    def clear(self, r: Reading, rule: RuleId) -> Event:
        """The event of a breach that ended at `r`."""
        return Event(Signal.CLEAR, rule, self.site.id, self.sensor, r.ts_ms)

    def late(self, policy: RulePolicy, r: Reading) -> bool:
        """Whether `r` arrived as late data."""
        return self.now_ms - r.ts_ms > policy.late_after_s * 1000


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

Judged = tuple[RuleState, list[Event]]  # a rule's state after a run, and what began or ended


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


# The rules judge a run of readings in one loop each: they run for every reading linli
# stores, so the common case (nothing begins or ends) is a few comparisons.


def noise_leq(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """The rolling energetic LAeq above the day or night limit, sustained; hysteresis to clear.

    GB 3096-2008 judges day and night apart, so the window holds only readings of the
    judged reading's own period; levels are compared as reported, to 0.1 dB.
    """
    calendar, series = policy.calendar, run.series
    window_ms = policy.leq_window_s * 1000
    needed_s = policy.min_coverage * policy.leq_window_s
    sustain_ms = policy.leq_sustain_s * 1000
    events: list[Event] = []
    minute = None
    for r in run.readings:
        end = r.ts_ms
        if end // 60_000 != minute:  # day or night: the same within a minute
            minute = end // 60_000
            period = calendar.period(end)
            begins_ms, ends_ms = calendar.period_bounds(end)
            limit = run.limits.noise(period)
            over_db, clear_db = limit.value, limit.value - policy.leq_hysteresis_db
        i, j = series.span(max(end - window_ms, begins_ms - 1), end)
        covered_s, energy = series.sums(i, j)
        if covered_s <= 0 or covered_s < needed_s:
            continue
        measured = round(level_of(energy, covered_s), 1)  # rules/energy.py
        since = state.since_ms
        if since is not None and not begins_ms <= since < ends_ms:
            state, since = _IDLE, None  # day and night apart: a new period, a new episode
        if state.active:
            if measured > clear_db:
                continue  # still on
        elif since is None and measured <= over_db:
            continue  # still lawful
        state, began, cleared = _episode(
            state, measured > over_db, measured <= clear_db, end, sustain_ms
        )
        if began:
            minutes = policy.leq_window_s / 60
            summary = (
                f"LAeq over {minutes:g} min {measured:.1f} dB(A) > {limit.value:g} dB(A) ({period})"
            )
            start_ms = min(_start(series.readings[i]), state.since_ms or end)
            event = run.breach(
                policy, r, RuleId.NOISE_LEQ, start_ms, measured, "dB(A)", limit, summary
            )
            events.append(event)
        elif cleared:
            events.append(run.clear(r, RuleId.NOISE_LEQ))
    return state, events


def noise_night_max(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """At night, LAmax above the night limit + 15 dB(A) (GB 3096-2008 §5.4): each one counts."""
    calendar = policy.calendar
    limit = run.limits.night_max
    events: list[Event] = []
    minute = None
    for r in run.readings:
        if r.ts_ms // 60_000 != minute:
            minute = r.ts_ms // 60_000
            night = calendar.period(r.ts_ms) is Period.NIGHT
        lamax = _num(r, "lamax") if night else None
        if lamax is None:
            state = _IDLE
        elif lamax <= limit.value:
            if state.active:
                events.append(run.clear(r, RuleId.NOISE_NIGHT_MAX))
            state = _IDLE
        else:
            summary = f"night LAmax {lamax:.1f} dB(A) > {limit.value:g} dB(A)"
            rule = RuleId.NOISE_NIGHT_MAX
            events.append(run.breach(policy, r, rule, _start(r), lamax, "dB(A)", limit, summary))
            state = RuleState(True, r.ts_ms)
    return state, events


def fume_conc(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """The mean concentration over the window, while the fan runs, above a limit in force."""
    calendar, series = policy.calendar, run.series
    window_ms = policy.fume_window_s * 1000
    needed_s = policy.min_coverage * policy.fume_window_s
    columns = [(limit, cols.fume_column(limit.metric)) for limit in run.limits.fume]
    events: list[Event] = []
    for r in run.readings:
        outside_hours = policy.fume_business_hours_only and not calendar.in_business_hours(r.ts_ms)
        if not fan_running(r) or outside_hours:
            if state.active:
                events.append(run.clear(r, RuleId.FUME_CONC))
            state = _IDLE
            continue
        end = r.ts_ms
        i, j = series.span(end - window_ms, end)
        sums = series.sums(i, j)
        fan_s = sums[cols.FAN_T]
        if fan_s <= 0 or fan_s < needed_s:
            continue
        worst: tuple[float, Limit] | None = None
        for limit, column in columns:
            count = sums[column + 1]
            if count < 0.5:  # no reading in the window carries this metric
                continue
            mean = round(sums[column] / count, 2)
            if mean > limit.value:
                worst = (mean, limit)
                break
        state, began, cleared = _episode(state, worst is not None, worst is None, end, 0)
        if began and worst is not None:
            mean, limit = worst
            summary = (
                f"{limit.metric} mean over {policy.fume_window_s / 60:g} min {mean:.2f} "
                f"mg/m³ > {limit.value:g} mg/m³"
            )
            start_ms = _start(next(x for x in series.readings[i:j] if fan_running(x)))
            event = run.breach(
                policy, r, RuleId.FUME_CONC, start_ms, mean, limit.unit, limit, summary
            )
            events.append(event)
        elif cleared:
            events.append(run.clear(r, RuleId.FUME_CONC))
    return state, events


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


def purifier_off(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """Fan running, purifier off, for `purifier_off_s` in business hours (GB 18483-2001 §5.1)."""
    events: list[Event] = []
    for r in run.readings:
        off = _purifier_off(policy, r)
        if off is None:
            continue
        off = off and policy.calendar.in_business_hours(r.ts_ms)
        began_ms = _start(r)
        since_state = state if state.since_ms is not None or not off else RuleState(False, began_ms)
        state, began, cleared = _episode(
            since_state, off, not off, r.ts_ms, policy.purifier_off_s * 1000
        )
        if began:
            since = state.since_ms if state.since_ms is not None else began_ms
            minutes = (r.ts_ms - since) / 60_000
            summary = f"fan running with the purifier off for {minutes:g} min"
            limit = run.limits.purifier
            rule = RuleId.PURIFIER_OFF
            events.append(
                run.breach(policy, r, rule, since, round(minutes, 1), "min", limit, summary)
            )
        elif cleared:
            events.append(run.clear(r, RuleId.PURIFIER_OFF))
    return state, events


RULES: Final = {
    RuleId.NOISE_LEQ: noise_leq,
    RuleId.NOISE_NIGHT_MAX: noise_night_max,
    RuleId.FUME_CONC: fume_conc,
    RuleId.PURIFIER_OFF: purifier_off,
}


def evaluate(rule: RuleId, policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """Judge a run of readings by one breach rule."""
    return RULES[rule](policy, run, state)


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
    and batch: the device checks look at each reading as it comes, and the trusted
    readings between two device changes go to the breach rules as one run. `limits` are
    the site's (`policy.site_limits(site)`, which a caller judging many batches keeps).
    """
    if limits is None:
        limits = policy.site_limits(site)
    events: list[Event] = []
    sensor = state.sensor
    faults = set(state.faults)
    rules = dict(state.rules)
    recent = list(state.recent)  # and this call's readings: the last few are kept
    keep_recent = max(policy.stuck_repeats, 1)
    watermark = state.watermark_ms
    period_s = state.period_s
    trusted: list[Reading] = []  # for the breach rules, before the next device change
    judged = False
    for r in readings:
        if watermark is not None and r.ts_ms <= watermark:  # late, or again: rare
            if trusted:
                events += _judge_run(
                    policy, Run(site, limits, sensor, series, trusted, now_ms), rules
                )
                trusted = []
            if _seen(r, recent[-keep_recent:], series):
                continue
        judged = True
        period_s = r.period_s
        metrics = r.metrics
        # the common case at C speed: not the same as the last reading, LAmin ≠ LAmax
        maybe_stuck = (recent and recent[-1].metrics == metrics) or (
            "lamin" in metrics and metrics["lamin"] == metrics.get("lamax")
        )
        recent.append(r)
        run = stuck_run(policy, recent) if maybe_stuck else ()
        why = implausible(policy, r)
        if run or why is not None or faults:
            if trusted:  # judged as they came, before the device changes
                events += _judge_run(
                    policy, Run(site, limits, sensor, series, trusted, now_ms), rules
                )
                trusted = []
            if RuleId.DEVICE_OFFLINE in faults:  # a reading: back online
                faults.discard(RuleId.DEVICE_OFFLINE)
                events.append(
                    Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, sensor, r.ts_ms)
                )
            _device_checks(site, sensor, r, run, why, faults, events)
        if run:  # the stuck run is no evidence of anything but the fault
            series.discard(x.ts_ms for x in run)
        if not faults:
            trusted.append(r)
        watermark = r.ts_ms if watermark is None or r.ts_ms > watermark else watermark
    if trusted:
        events += _judge_run(policy, Run(site, limits, sensor, series, trusted, now_ms), rules)
    if not judged:
        return state, events
    kept = tuple(recent[-keep_recent:])
    new = SensorState(sensor, kept, rules, frozenset(faults), now_ms, period_s, watermark)
    return new, events


_EVENT_TIME: Final = operator.attrgetter("ts_ms")


def _judge_run(policy: RulePolicy, run: Run, rules: dict[RuleId, RuleState]) -> list[Event]:
    """Add a run's readings to its series and judge them by their kind's breach rules.

    `rules` (the sensor's rule states) is updated; the events come in time order, and at
    one reading in the rules' order.
    """
    series = run.series
    series.extend(run.readings)
    events: list[Event] = []
    for rule in BREACH_RULES[run.readings[0].kind]:
        state, found = RULES[rule](policy, run, rules.get(rule, _IDLE))
        if state == _IDLE:
            rules.pop(rule, None)
        else:
            rules[rule] = state
        events += found
    series.trim()
    if len(events) > 1:
        events.sort(key=_EVENT_TIME)  # stable: at one time, in the rules' order
    return events


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
    newer than the last reading ends an offline fault (a retained old one does not).

    A last will older than the newest reading judged is old news (one read back from the
    spool at start, the sensor having spoken since): it changes nothing.
    """
    if not status.online:
        if state.watermark_ms is not None and status.ts_ms < state.watermark_ms:
            return state, []
        return judge_silence(policy, site, state, now_ms, will=True)
    if RuleId.DEVICE_OFFLINE not in state.faults:
        return state, []
    newest = max((r.ts_ms for r in state.recent), default=None)
    if newest is not None and status.ts_ms < newest:
        return state, []
    new = state._replace(faults=state.faults - {RuleId.DEVICE_OFFLINE})
    return new, [Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, state.sensor, now_ms)]
