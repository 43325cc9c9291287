"""The breach rules: each judges a run of a sensor's readings against the limits in force.

`evaluate(rule, policy, run, state)` judges a `Run` by one rule, each reading by the
window ending at its time, and returns the rule's next state with the breaches that
began and ended. The rules run for every reading linli stores, so each is one loop in
which the common case (nothing begins or ends) is a few comparisons. Pure functions of
(readings, prior state, now) (STYLE §5); the series is the engine's memory of readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from linli.rules import series as cols
from linli.rules.energy import level_of
from linli.rules.events import Breach, Event, RuleId, Signal
from linli.rules.limits import Limit, Period
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import Reading, numeric
from linli.rules.registry import Site
from linli.rules.series import Series, fan_running

# RuleState and Run are NamedTuples rather than frozen dataclasses: as
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


IDLE: Final = RuleState()  # a rule with nothing going on (not saved)

Judged = tuple[RuleState, list[Event]]  # a rule's state after a run, and what began or ended


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
            state, since = IDLE, None  # day and night apart: a new period, a new episode
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
        lamax = numeric(r, "lamax") if night else None
        if lamax is None:
            state = IDLE
        elif lamax <= limit.value:
            if state.active:
                events.append(run.clear(r, RuleId.NOISE_NIGHT_MAX))
            state = IDLE
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
            state = IDLE
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
    current = numeric(r, "purifier_current")
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
