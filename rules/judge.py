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

import bisect
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from linli.rules.energy import leq
from linli.rules.limits import Limit, Period, night_max_limit, noise_limit, purifier_limit
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Site


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


@dataclass(frozen=True, slots=True)
class RuleState:
    """A rule's memory for one sensor: whether a breach is on, and since when it was over."""

    active: bool = False
    since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """The trusted readings of one sensor up to `current`, the reading being judged."""

    site: Site
    sensor: str
    readings: tuple[Reading, ...]
    current: Reading
    late: bool = False

    @property
    def end_ms(self) -> int:
        """The end of the judged reading's period."""
        return self.current.ts_ms


@dataclass(frozen=True, slots=True)
class SensorState:
    """Everything the rules remember about one sensor; survives restarts via the store."""

    sensor: str
    buffer: tuple[Reading, ...] = ()  # trusted readings, oldest first
    recent: tuple[Reading, ...] = ()  # the last readings, trusted or not (stuck detection)
    rules: Mapping[RuleId, RuleState] = field(default_factory=dict)
    faults: frozenset[RuleId] = frozenset()
    last_seen_ms: int | None = None  # wall time the last reading was judged
    period_s: int = 60
    watermark_ms: int | None = None  # the newest reading time judged (replay starts after it)

    def judged(self, r: Reading) -> bool:
        """Whether this very reading (time and seq) was judged already: a redelivery."""
        if self.watermark_ms is None or r.ts_ms > self.watermark_ms:
            return False
        if any(x.ts_ms == r.ts_ms and x.seq == r.seq for x in self.recent):
            return True
        i = bisect.bisect_left(self.buffer, r.ts_ms, key=lambda x: x.ts_ms)
        return (
            i < len(self.buffer) and self.buffer[i].ts_ms == r.ts_ms and self.buffer[i].seq == r.seq
        )


Outcome = tuple[RuleState, Breach | None, bool]  # next state, breach begun, breach cleared


def _num(r: Reading, metric: str) -> float | None:
    value = r.metrics.get(metric)
    if value is None or isinstance(value, bool):
        return None
    return float(value)


def _covered(readings: list[Reading], window_s: int, min_coverage: float) -> bool:
    return sum(r.period_s for r in readings) >= min_coverage * window_s


def _start(readings: list[Reading]) -> int:
    return readings[0].ts_ms - readings[0].period_s * 1000


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
    cal = policy.calendar
    end = window.end_ms
    period = cal.period(end)
    limit = noise_limit(policy.noise_standard(window.site), window.site.zone, period)
    start = end - policy.leq_window_s * 1000
    readings = window.readings
    first = bisect.bisect_right(readings, start, key=lambda r: r.ts_ms)
    last = bisect.bisect_right(readings, end, key=lambda r: r.ts_ms)
    inside = [r for r in readings[first:last] if "laeq" in r.metrics]
    # A window (minutes) crosses at most one day/night boundary (hours apart): when its
    # first reading is of the judged period, so are all the others.
    if inside and cal.period(inside[0].ts_ms) is not period:
        inside = [r for r in inside if cal.period(r.ts_ms) is period]
    if not inside or not _covered(inside, policy.leq_window_s, policy.min_coverage):
        return state, None, False
    measured = round(leq(inside), 1)
    if state.since_ms is not None and cal.period(state.since_ms) is not period:
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
            min(_start(inside), nxt.since_ms or end),
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
    lamax = _num(r, "lamax")
    if lamax is None or policy.calendar.period(r.ts_ms) is not Period.NIGHT:
        return RuleState(), None, False
    limit = night_max_limit(policy.noise_standard(window.site), window.site.zone)
    if lamax <= limit.value:
        return RuleState(), None, state.active
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


def _fan_running(r: Reading) -> bool:
    return r.metrics.get("fan_on", True) is True


def fume_conc(policy: RulePolicy, window: Window, state: RuleState, now_ms: int) -> Outcome:
    """The mean concentration over the window, while the fan runs, above a limit in force."""
    del now_ms
    r = window.current
    outside_hours = policy.fume_business_hours_only and not policy.calendar.in_business_hours(
        r.ts_ms
    )
    if not _fan_running(r) or outside_hours:
        return RuleState(), None, state.active
    end = window.end_ms
    start = end - policy.fume_window_s * 1000
    inside = [x for x in window.readings if start < x.ts_ms <= end and _fan_running(x)]
    if not inside or not _covered(inside, policy.fume_window_s, policy.min_coverage):
        return state, None, False
    worst: tuple[float, Limit] | None = None
    for limit in policy.fume_limits(window.site):
        values = [v for x in inside if (v := _num(x, limit.metric)) is not None]
        if not values:
            continue
        mean = round(sum(values) / len(values), 2)
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
            _start(inside),
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
            purifier_limit(policy.fume_standard_of(window.site), window.site.cooking_heads),
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


def evaluate(
    rule: RuleId, policy: RulePolicy, window: Window, state: RuleState, now_ms: int
) -> Outcome:
    """Judge one breach rule at the end of `window`."""
    return RULES[rule](policy, window, state, now_ms)


# -- device checks ---------------------------------------------------------------------


def _identical(a: Reading, b: Reading) -> bool:
    return a.metrics == b.metrics


def stuck_run(policy: RulePolicy, recent: tuple[Reading, ...]) -> tuple[Reading, ...]:
    """The readings proving a stuck sensor, or () when it is not stuck.

    LAmin = LAmax over a period of a minute or more is physically impossible outdoors;
    so are `stuck_repeats` identical readings in a row (for fume: with fume in them).
    """
    r = recent[-1]
    lamin, lamax = _num(r, "lamin"), _num(r, "lamax")
    if lamin is not None and lamax is not None and lamin == lamax and r.period_s >= 60:
        return (r,)
    n = policy.stuck_repeats
    if n < 2 or len(recent) < n:
        return ()
    run = recent[-n:]
    if not all(_identical(run[0], x) for x in run[1:]):
        return ()
    if r.kind is SensorKind.FUME and not (_num(r, "oil_fume") or 0) > 0:
        return ()
    return run


def implausible(policy: RulePolicy, r: Reading) -> str | None:
    """Why a reading cannot be real (a blocked or tampered sensor), or None."""
    laeq = _num(r, "laeq")
    if laeq is not None and laeq < policy.implausible_laeq_below_db:
        return (
            f"LAeq {laeq:g} dB(A) below {policy.implausible_laeq_below_db:g}: too quiet to be real"
        )
    fume = _num(r, "oil_fume")
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
    """How much reading time a sensor's buffer holds: the longest window, or the evidence."""
    return 1000 * max(policy.leq_window_s, policy.fume_window_s, policy.evidence_margin_s)


def judge_reading(
    policy: RulePolicy, site: Site, state: SensorState, r: Reading, now_ms: int
) -> tuple[SensorState, list[Event]]:
    """Device checks, then the breach rules of the sensor's kind, for one new reading.

    A reading judged already (redelivered by the broker after a crash, or replayed from
    InfluxDB and then redelivered) changes nothing.
    """
    if state.judged(r):
        return state, []
    events: list[Event] = []
    faults = set(state.faults)
    sensor = state.sensor
    if RuleId.DEVICE_OFFLINE in faults:
        faults.discard(RuleId.DEVICE_OFFLINE)
        events.append(Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, sensor, r.ts_ms))
    recent = (*state.recent, r)[-max(policy.stuck_repeats, 1) :]
    buffer = list(state.buffer)
    run = stuck_run(policy, recent)
    why = implausible(policy, r)
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
    if run:  # the stuck run is no evidence of anything but the fault
        stuck_ts = {x.ts_ms for x in run}
        buffer = [x for x in buffer if x.ts_ms not in stuck_ts]
    rules = dict(state.rules)
    late = now_ms - r.ts_ms > policy.late_after_s * 1000
    if not faults:
        keys = [x.ts_ms for x in buffer]
        i = bisect.bisect_left(keys, r.ts_ms)
        if i < len(buffer) and buffer[i].ts_ms == r.ts_ms:
            buffer[i] = r
        else:
            buffer.insert(i, r)
        horizon = buffer[-1].ts_ms - keep_ms(policy)
        buffer = [x for x in buffer if x.ts_ms > horizon]
        window = Window(site, sensor, tuple(x for x in buffer if x.ts_ms <= r.ts_ms), r, late)
        for rule in BREACH_RULES[r.kind]:
            prior = rules.get(rule, RuleState())
            nxt, breach, cleared = evaluate(rule, policy, window, prior, now_ms)
            rules[rule] = nxt
            if breach is not None:
                events.append(Event(Signal.BREACH, rule, site.id, sensor, r.ts_ms, breach))
            elif cleared:
                events.append(Event(Signal.CLEAR, rule, site.id, sensor, r.ts_ms))
    new = SensorState(
        sensor,
        tuple(buffer),
        recent,
        {k: v for k, v in rules.items() if v != RuleState()},
        frozenset(faults),
        now_ms,
        r.period_s,
        r.ts_ms if state.watermark_ms is None else max(state.watermark_ms, r.ts_ms),
    )
    return new, events


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
    new = dataclasses.replace(state, faults=state.faults | {RuleId.DEVICE_OFFLINE})
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
    new = dataclasses.replace(state, faults=state.faults - {RuleId.DEVICE_OFFLINE})
    return new, [Event(Signal.RECOVER, RuleId.DEVICE_OFFLINE, site.id, state.sensor, now_ms)]
