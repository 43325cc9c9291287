"""The judge: a sensor's readings in, rule events out (STYLE §5).

`judge_readings` runs a sensor's device checks reading by reading and hands the trusted
readings between two device changes to its breach rules (rules/breaches.py) as one run
(`judge_reading`: one reading); `judge_silence` finds sensors that went quiet and
`judge_status` acts on a status message (the last will: offline at once; back online:
recovered). A sensor with a device fault is judged by no breach rule (CONTRACT §5): its
readings neither open nor close breach cases until it recovers. A flagged reading (an
HJ 212 data flag other than N, CONTRACT §8) is not monitoring data: it shows the sensor
is alive, and nothing else: no rule, device check or recovery sees it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, NamedTuple

from linli.rules.breaches import IDLE, RuleState, Run, evaluate
from linli.rules.events import BREACH_RULES, Breach, Event, RuleId, Signal
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import DeviceStatus, Reading, SensorKind, monitoring, numeric
from linli.rules.registry import Site
from linli.rules.series import Series


class SensorState(NamedTuple):
    """Everything the rules remember about one sensor; survives restarts via the store."""

    sensor: str
    recent: tuple[Reading, ...] = ()  # the last readings, trusted or not (stuck detection)
    rules: Mapping[RuleId, RuleState] = MappingProxyType({})
    faults: frozenset[RuleId] = frozenset()
    last_seen_ms: int | None = None  # wall time the last reading was judged
    period_s: int = 60
    watermark_ms: int | None = None  # the newest reading time judged (replay starts after it)


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
    if r.kind is SensorKind.FUME and not (numeric(r, "oil_fume") or 0) > 0:
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
    run_of = functools.partial(Run, site, limits, sensor, series, now_ms=now_ms)
    judged = False
    for r in readings:
        if watermark is not None and r.ts_ms <= watermark:  # late, or again: rare
            if trusted:
                events += _judge_run(policy, run_of(trusted), rules)
                trusted = []
            if _seen(r, recent[-keep_recent:], series):
                continue
        judged = True
        period_s = r.period_s
        watermark = r.ts_ms if watermark is None or r.ts_ms > watermark else watermark
        if not monitoring(r):  # stored, never judged: no case opens, grows or closes on it
            continue
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
                events += _judge_run(policy, run_of(trusted), rules)
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
    if trusted:
        events += _judge_run(policy, run_of(trusted), rules)
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
        state, found = evaluate(rule, policy, run, rules.get(rule, IDLE))
        if state == IDLE:
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
        (RuleId.DEVICE_IMPLAUSIBLE, why is not None, why or "", numeric(r, "laeq") or 0.0),
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
