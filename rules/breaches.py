"""The breach rules: each judges a run of a sensor's readings against the limits in force.

`evaluate(rule, policy, run, state)` judges a `Run` by one rule, each reading by the
window ending at its time, and returns the rule's next state with its events. An
occurrence is an episode, not a reading: readings over the limit one after the other
(a gap shorter than the rule's window joins them) are one episode, told by one BREACH
when it begins, an EXTEND at most once per rule window of reading time while it grows,
and a CLEAR with its final window and worst value when it ends (`Episode`). The rules
run for every reading linli stores, so each is one loop in which the common case, loud
or quiet, is a few comparisons. Pure functions of (readings, prior state, now)
(STYLE §5); the series is the engine's memory of readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from linli.rules import series as cols
from linli.rules.energy import level_of
from linli.rules.events import Breach, Event, RuleId, Signal
from linli.rules.limits import Limit, Period
from linli.rules.localtime import measured_at_ms
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import Reading, numeric
from linli.rules.registry import Site
from linli.rules.series import Series, fan_running

# RuleState and Run are NamedTuples rather than frozen dataclasses: as
# immutable, but built at C speed.


class RuleState(NamedTuple):
    """A rule's memory for one sensor: the episode it is in, if any.

    An episode is a rule's readings over the limit, one after the other (a gap shorter
    than the rule's window joins them): one occurrence on the case, however many
    readings it takes. Pending (over, not sustained yet): `told_ms` None, `since_ms`
    when it began to count. Told: its BREACH and then each EXTEND went out at reading
    time `told_ms`; `active` while it is over now, not while quiet within the gap.
    """

    active: bool = False  # over the limit now (for noise_leq: not yet back below its hysteresis)
    since_ms: int | None = None  # told: its window's start (the occurrence's identity)
    last_ms: int | None = None  # the end of the episode's latest over-limit reading
    worst: float | None = None  # the episode's worst measured value
    told_ms: int | None = None  # reading time its extent was last told (BREACH or EXTEND)


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

    def extent(
        self,
        policy: RulePolicy,
        signal: Signal,
        r: Reading,
        rule: RuleId,
        episode: Episode,
        unit: str,
        limit: Limit | None,
        summary: str,
    ) -> Event:
        """EXTEND or CLEAR at `r`: the episode's window so far and its worst value."""
        assert episode.since_ms is not None and episode.last_ms is not None
        assert episode.worst is not None  # told: a reading over the limit gave it
        breach = Breach(
            rule,
            self.site.id,
            self.sensor,
            episode.since_ms,
            episode.last_ms,
            episode.worst,
            unit,
            limit,
            summary,
            self.late(policy, r),
        )
        return Event(signal, rule, self.site.id, self.sensor, r.ts_ms, breach)

    def late(self, policy: RulePolicy, r: Reading) -> bool:
        """Whether `r` arrived as late data."""
        return self.now_ms - r.ts_ms > policy.late_after_s * 1000


IDLE: Final = RuleState()  # a rule with nothing going on (not saved)

Judged = tuple[RuleState, list[Event]]  # a rule's state after a run, and what began or ended

NOTHING, BEGAN, GREW = 0, 1, 2  # what an over-limit reading did to its episode


class Episode:
    """A rule's RuleState while it judges one run: the same fields, changed in place.

    One per rule and run, turned back into a RuleState at the run's end: a loud reading
    then costs a few comparisons, as a quiet one does.
    """

    __slots__ = ("active", "last_ms", "since_ms", "told_ms", "worst")

    def __init__(self, state: RuleState) -> None:
        self.active, self.since_ms, self.last_ms, self.worst, self.told_ms = state

    def state(self) -> RuleState:
        """As a RuleState (IDLE when nothing goes on)."""
        if self.since_ms is None:
            return IDLE
        return RuleState(self.active, self.since_ms, self.last_ms, self.worst, self.told_ms)

    def reset(self) -> None:
        """Nothing goes on any more."""
        self.active, self.since_ms, self.last_ms, self.worst, self.told_ms = IDLE

    def over_by(self, at_ms: int, gap_ms: int) -> bool:
        """Whether a told episode is over at `at_ms`: no reading over the limit for `gap_ms`."""
        last = self.last_ms
        return self.told_ms is not None and last is not None and at_ms - last >= gap_ms

    def over(self, since_ms: int, end_ms: int, value: float, sustain_ms: int, grow_ms: int) -> int:
        """A reading over the limit ending at `end_ms`: BEGAN (tell the breach), GREW (tell
        its extent: at most once per `grow_ms` of reading time) or NOTHING.

        `since_ms` starts a new episode (for the sustain: it began when it is `sustain_ms`
        old); a late reading never shrinks the window.
        """
        if self.since_ms is None:
            self.since_ms, self.last_ms, self.worst = since_ms, end_ms, value
        else:
            if self.last_ms is None or end_ms > self.last_ms:
                self.last_ms = end_ms
            if self.worst is None or value > self.worst:
                self.worst = value
        if self.told_ms is None:  # pending
            if end_ms - self.since_ms >= sustain_ms:
                self.active, self.told_ms = True, end_ms
                return BEGAN
            return NOTHING
        self.active = True
        if end_ms - self.told_ms >= grow_ms:
            self.told_ms = end_ms
            return GREW
        return NOTHING

    def quiet(self) -> None:
        """A reading not over the limit: a pending episode is gone, a told one waits."""
        if self.told_ms is None:
            self.reset()
        else:
            self.active = False

    def ends_quietly(self, at_ms: int, gap_ms: int) -> bool:
        """A reading not over the limit at `at_ms` (`quiet`): whether the told episode is
        thereby over, no reading over the limit for `gap_ms` (then tell CLEAR and reset)."""
        self.quiet()
        return self.over_by(at_ms, gap_ms)


def _start(r: Reading) -> int:
    """When a reading's period began."""
    return r.ts_ms - r.period_s * 1000


def _minutes(episode: Episode) -> float:
    """How long an episode has lasted, in minutes to 0.1."""
    assert episode.since_ms is not None and episode.last_ms is not None
    return round((episode.last_ms - episode.since_ms) / 60_000, 1)


def noise_leq(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """The rolling energetic LAeq above the day or night limit, sustained; hysteresis to clear.

    GB 3096-2008 judges day and night apart, so the window holds only readings of the
    judged reading's own period (by each period's midpoint: rules/localtime.py), and a
    new period starts a new episode; levels are compared as reported, to 0.1 dB. Once
    on, the episode goes on while the LAeq stays above limit − hysteresis and ends once
    it has been below for `leq_window_s`; its worst is the worst window LAeq.
    """
    calendar, series = policy.calendar, run.series
    window_ms = policy.leq_window_s * 1000
    needed_s = policy.min_coverage * policy.leq_window_s
    sustain_ms = policy.leq_sustain_s * 1000
    minutes = policy.leq_window_s / 60
    rule = RuleId.NOISE_LEQ
    events: list[Event] = []
    ep = Episode(state)

    def summary(measured: float, limit: Limit, period: Period) -> str:
        return f"LAeq over {minutes:g} min {measured:.1f} dB(A) > {limit.value:g} dB(A) ({period})"

    def told(signal: Signal, r: Reading) -> Event:
        assert ep.last_ms is not None and ep.worst is not None
        limit = run.limits.noise_in_force(calendar, ep.last_ms, r.period_s)
        period = calendar.period_of(ep.last_ms, r.period_s)
        text = f"{summary(ep.worst, limit, period)} at worst, {_minutes(ep):g} min in all"
        return run.extent(policy, signal, r, rule, ep, "dB(A)", limit, text)

    minute = None
    for r in run.readings:
        end = r.ts_ms
        half_ms = r.period_s * 500
        mid = end - half_ms  # measured_at_ms, written out: for every reading
        if mid // 60_000 != minute:  # day or night: its period's midpoint's minute decides
            minute = mid // 60_000
            period = calendar.period_of(end, r.period_s)
            limit = run.limits.noise_in_force(calendar, end, r.period_s)
            begins_ms, ends_ms = calendar.period_bounds(measured_at_ms(end, r.period_s))
            over_db, clear_db = limit.value, limit.value - policy.leq_hysteresis_db
        if ep.last_ms is not None and not begins_ms <= ep.last_ms - half_ms < ends_ms:
            if end < ep.last_ms:
                continue  # late data of an earlier period than the episode's: not judged
            if ep.told_ms is not None:  # day and night apart: a new period, a new episode
                events.append(told(Signal.CLEAR, r))
            ep.reset()
        # the readings measured in this period: a midpoint at or after its beginning
        i, j = series.span(max(end - window_ms, begins_ms + half_ms - 1), end)
        covered_s, energy = series.sums(i, j)
        if covered_s <= 0 or covered_s < needed_s:
            continue
        measured = round(level_of(energy, covered_s), 1)  # rules/energy.py
        if measured > (clear_db if ep.active else over_db):
            if ep.over_by(_start(r), window_ms):
                events.append(told(Signal.CLEAR, r))
                ep.reset()
            did = ep.over(end, end, measured, sustain_ms, window_ms)
            if did == BEGAN:
                start_ms = min(_start(series.readings[i]), ep.since_ms or end)
                ep.since_ms = start_ms  # the window's start: the occurrence's identity
                text = summary(measured, limit, period)
                events.append(run.breach(policy, r, rule, start_ms, measured, "dB(A)", limit, text))
            elif did == GREW:
                events.append(told(Signal.EXTEND, r))
        elif ep.since_ms is not None and ep.ends_quietly(end, window_ms):
            events.append(told(Signal.CLEAR, r))
            ep.reset()
    return ep.state(), events


def noise_night_max(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """At night, LAmax above the night limit + 15 dB(A) (GB 3096-2008 §5.4).

    Night by each reading's period's midpoint. Readings over it one after the other (a
    gap shorter than `leq_window_s` joins them) are one episode, whose worst is its
    highest LAmax; it ends once `leq_window_s` passed without one, or when night ends.
    """
    calendar = policy.calendar
    limit = run.limits.night_max
    limit_db = limit.value
    gap_ms = policy.leq_window_s * 1000
    rule = RuleId.NOISE_NIGHT_MAX
    events: list[Event] = []
    ep = Episode(state)

    def told(signal: Signal, r: Reading) -> Event:
        assert ep.worst is not None
        text = (
            f"night LAmax {ep.worst:.1f} dB(A) > {limit.value:g} dB(A) at worst, "
            f"{_minutes(ep):g} min in all"
        )
        return run.extent(policy, signal, r, rule, ep, "dB(A)", limit, text)

    minute = None
    for r in run.readings:
        mid = r.ts_ms - r.period_s * 500  # measured_at_ms, written out: for every reading
        if mid // 60_000 != minute:  # the midpoint's minute decides
            minute = mid // 60_000
            night = calendar.period_of(r.ts_ms, r.period_s) is Period.NIGHT
        # a true/false compares as 1/0: never over, as numeric() would have it
        lamax = r.metrics.get("lamax") if night else None
        if lamax is not None and lamax > limit_db:
            lamax = float(lamax)
            start = _start(r)
            if ep.over_by(start, gap_ms):
                events.append(told(Signal.CLEAR, r))
                ep.reset()
            did = ep.over(start, r.ts_ms, lamax, 0, gap_ms)
            if did == BEGAN:
                summary = f"night LAmax {lamax:.1f} dB(A) > {limit.value:g} dB(A)"
                events.append(run.breach(policy, r, rule, start, lamax, "dB(A)", limit, summary))
            elif did == GREW:
                events.append(told(Signal.EXTEND, r))
        # a quiet reading by night waits for the gap; the first by day: night ended, so did it
        elif ep.since_ms is not None and ep.ends_quietly(r.ts_ms, gap_ms if night else 0):
            events.append(told(Signal.CLEAR, r))
            ep.reset()
    return ep.state(), events


def fume_conc(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """The mean concentration over the window, while the fan runs, above a limit in force.

    Windows over a limit one after the other (a gap shorter than `fume_window_s` joins
    them) are one episode; its worst is the highest mean of the limit first exceeded.
    """
    calendar, series = policy.calendar, run.series
    window_ms = policy.fume_window_s * 1000
    needed_s = policy.min_coverage * policy.fume_window_s
    columns = [(limit, cols.fume_column(limit.metric)) for limit in run.limits.fume]
    minutes = policy.fume_window_s / 60
    rule = RuleId.FUME_CONC
    events: list[Event] = []
    ep = Episode(state)

    def summary(mean: float, limit: Limit) -> str:
        return f"{limit.metric} mean over {minutes:g} min {mean:.2f} mg/m³ > {limit.value:g} mg/m³"

    def told(signal: Signal, r: Reading) -> Event:
        # the worst of whichever limit each window exceeded first: named by no one limit
        assert ep.worst is not None
        text = (
            f"mean over {minutes:g} min {ep.worst:.2f} mg/m³ over its limit at worst, "
            f"{_minutes(ep):g} min in all"
        )
        return run.extent(policy, signal, r, rule, ep, "mg/m³", None, text)

    for r in run.readings:
        outside_hours = policy.fume_business_hours_only and not calendar.in_business_hours(r.ts_ms)
        worst: tuple[float, Limit] | None = None
        if fan_running(r) and not outside_hours:
            end = r.ts_ms
            i, j = series.span(end - window_ms, end)
            sums = series.sums(i, j)
            fan_s = sums[cols.FAN_T]
            if fan_s <= 0 or fan_s < needed_s:
                continue
            for limit, column in columns:
                count = sums[column + 1]
                if count < 0.5:  # no reading in the window carries this metric
                    continue
                mean = round(sums[column] / count, 2)
                if mean > limit.value:
                    worst = (mean, limit)
                    break
        if worst is not None:
            mean, limit = worst
            start = _start(next(x for x in series.readings[i:j] if fan_running(x)))
            if ep.over_by(_start(r), window_ms):
                events.append(told(Signal.CLEAR, r))
                ep.reset()
            did = ep.over(start, r.ts_ms, mean, 0, window_ms)
            if did == BEGAN:
                text = summary(mean, limit)
                events.append(run.breach(policy, r, rule, start, mean, limit.unit, limit, text))
            elif did == GREW:
                events.append(told(Signal.EXTEND, r))
        elif ep.since_ms is not None and ep.ends_quietly(r.ts_ms, window_ms):
            events.append(told(Signal.CLEAR, r))
            ep.reset()
    return ep.state(), events


def _purifier_off(policy: RulePolicy, r: Reading) -> bool | None:
    if "fan_on" not in r.metrics:
        return None
    if r.metrics["fan_on"] is not True:
        return False
    current = numeric(r, "purifier_current")
    if current is not None:
        return current < policy.purifier_current_min_a
    state = r.metrics.get("purifier_on")
    return None if state is None else state is not True


def purifier_off(policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """Fan running, purifier off, for `purifier_off_s` in business hours (GB 18483-2001 §5.1).

    Off again within `purifier_off_s` of the last time it was off: the same episode,
    whose worst is its length in minutes.
    """
    sustain_ms = policy.purifier_off_s * 1000
    limit = run.limits.purifier
    rule = RuleId.PURIFIER_OFF
    events: list[Event] = []
    ep = Episode(state)

    def told(signal: Signal, r: Reading) -> Event:
        ep.worst = _minutes(ep)
        text = f"fan running with the purifier off, {ep.worst:g} min in all"
        return run.extent(policy, signal, r, rule, ep, "min", limit, text)

    for r in run.readings:
        off = _purifier_off(policy, r)
        if off is None:
            continue
        if off and policy.calendar.in_business_hours(r.ts_ms):
            start = _start(r)
            if ep.over_by(start, sustain_ms):
                events.append(told(Signal.CLEAR, r))
                ep.reset()
            since = start if ep.since_ms is None else ep.since_ms
            lasted = round((r.ts_ms - since) / 60_000, 1)
            did = ep.over(start, r.ts_ms, lasted, sustain_ms, sustain_ms)
            if did == BEGAN:
                minutes = (r.ts_ms - since) / 60_000
                summary = f"fan running with the purifier off for {minutes:g} min"
                events.append(
                    run.breach(policy, r, rule, since, round(minutes, 1), "min", limit, summary)
                )
            elif did == GREW:
                events.append(told(Signal.EXTEND, r))
        elif ep.since_ms is not None and ep.ends_quietly(r.ts_ms, sustain_ms):
            events.append(told(Signal.CLEAR, r))
            ep.reset()
    return ep.state(), events


RULES: Final = {
    RuleId.NOISE_LEQ: noise_leq,
    RuleId.NOISE_NIGHT_MAX: noise_night_max,
    RuleId.FUME_CONC: fume_conc,
    RuleId.PURIFIER_OFF: purifier_off,
}


def evaluate(rule: RuleId, policy: RulePolicy, run: Run, state: RuleState) -> Judged:
    """Judge a run of readings by one breach rule."""
    return RULES[rule](policy, run, state)
