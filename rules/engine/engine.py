"""The rule engine: durable readings in, case changes out (STYLE §5–7).

Ingest's writer hands every durable batch to `Engine.submit`, which only enqueues: the
hot path stays fast. One engine thread takes `now` once per round, judges the readings
by the pure rules (rules/judge.py, rules/breaches.py), and applies the resulting
decisions to the case store in one transaction together with the rules' new memory, so
a restart mid-breach neither repeats nor misses a case. A periodic tick finds silent
sensors, escalates cases on schedule and closes resolved ones whose verification window
passed. Telling (the `case_event` points for Grafana) happens after the transaction, as
its own stage.

A full queue blocks the writer: the writer stops acknowledging, the MQTT loop stops
reading and the broker holds the rest (the same backpressure as a full spool).

The engine keeps each sensor's readings over the rules' longest window in memory
(`rules/series.Series`, with running sums), not in the saved state: the saved state is
small (rule episodes, faults, the last few readings, the watermark). A batch is
acknowledged once durable, before it is judged: if linli dies in between, the broker
will not redeliver it. So at start the engine reads back from InfluxDB each sensor's
readings from a window before its watermark (the newest reading time it judged) on:
those up to the watermark refill the series, the later ones are judged through the same
path. What the broker also redelivers is judged once (a reading already held is
skipped: rules/judge.py), and an occurrence is kept once per (case, sensor, window start).
Readings that were in the spool at the crash reach InfluxDB only later: the writer hands
them over again at start (ingest/writer.py).

Evidence snapshots (rules/engine/evidence.py) start with the readings in memory and are read
back in full from InfluxDB by the tick; telling is influx/annotations.py.
"""

from __future__ import annotations

import logging
import operator
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from linli.influx.annotations import CaseChange, Tell
from linli.influx.history import ReadingHistory
from linli.rules.case import (
    Action,
    Case,
    CaseKind,
    CaseState,
    Level,
    apply,
    due_level,
    open_case,
    verification_due,
)
from linli.rules.engine.evidence import Snapshots
from linli.rules.events import DEVICE_RULES, Breach, Event, Signal
from linli.rules.judge import (
    SensorState,
    judge_readings,
    judge_silence,
    judge_status,
    keep_ms,
    new_series,
)
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Registry, Site
from linli.rules.series import Series
from linli.store import Database
from linli.store.cases import CaseTx
from linli.store.rulestate import state_doc, state_of

log = logging.getLogger(__name__)

ACTOR: Final = "linli"

TITLES: Final = {
    "noise_leq": "噪声超标 noise over the limit",
    "noise_night_max": "夜间突发噪声 night noise peaks",
    "fume_conc": "油烟超标 cooking fume over the limit",
    "purifier_off": "净化器未开启 purifier off while cooking",
    "device_offline": "设备离线 sensor offline",
    "device_stuck": "设备数据冻结 sensor stuck",
    "device_implausible": "设备数据异常 implausible readings",
}


IDLE_SAVE_S: Final = 0.2  # a queue quiet this long: save the rules' state

Stored = Reading | DeviceStatus  # what the writer hands over once durable, in arrival order


class Engine:
    """Judges readings per (site, rule) and keeps the cases; one thread, `now` per round."""

    def __init__(
        self,
        db: Database,
        policy: RulePolicy,
        *,
        tell: Tell | None = None,
        queue_batches: int = 16,
        tick_s: float = 10.0,
        retry_s: float = 1.0,
        clock: Callable[[], int] | None = None,
        history: ReadingHistory | None = None,
        replay_s: int = 24 * 3600,
        checkpoint_s: float = 5.0,
        round_readings: int = 50_000,
        round_s: float = 0.1,
    ) -> None:
        self._db = db
        self.history = history
        self._replay_s = replay_s
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.policy = policy
        self._tell = tell
        self._queue: queue.Queue[Sequence[Stored] | None] = queue.Queue(maxsize=queue_batches)
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._registry: Registry = db.load_registry()
        self._limits: dict[str, SiteLimits] = {}  # per site, as of this registry
        with db.cases() as tx:
            self._states = {s: state_of(s, d) for s, d in tx.load_states().items()}
            pending = tx.pending_snapshots()
        self._snapshots = Snapshots(policy.evidence_margin_s, history, pending)
        self._series: dict[str, Series] = {}
        self._dirty: set[str] = set()  # sensors whose state is newer than the saved one
        self._saved_at = time.monotonic()
        self._checkpoint_s = checkpoint_s
        self._round_readings = round_readings
        self._round_s = round_s
        self._thread: threading.Thread | None = None
        self.judged = 0

    def _series_of(self, sensor: str, kind: SensorKind) -> Series:
        series = self._series.get(sensor)
        if series is None:
            series = self._series[sensor] = new_series(self.policy, kind)
        return series

    # -- feeding --------------------------------------------------------------------

    def submit(self, items: Sequence[Stored]) -> None:
        """Writer.on_stored: enqueue durable readings and statuses (blocks while full)."""
        self._queue.put(items)

    def start(self) -> Engine:
        """Run the engine thread."""
        self._thread = threading.Thread(target=self._run, name="linli-engine", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Judge what is queued, then stop."""
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def idle(self) -> bool:
        """Nothing queued, nothing being judged, the rules' state saved."""
        return self._queue.unfinished_tasks == 0 and not self._dirty

    def replay(self, now_ms: int, chunk: int = 5000) -> int:
        """Refill each sensor's series from InfluxDB and judge what is newer than its watermark.

        Readings acknowledged but not judged when linli died are in InfluxDB (those still
        in the spool come from the writer at start). Only readings at most `replay_s` old
        are read. Returns the number of readings judged.
        """
        if self.history is None:
            return 0
        horizon = now_ms - self._replay_s * 1000
        keep = keep_ms(self.policy)
        replayed = 0
        for sensor, newest in sorted(self.history.newest(horizon).items()):
            watermark = self._watermark(sensor)
            if self._site_of(sensor) is None:
                continue
            after = horizon if watermark is None else max(horizon, watermark - keep)
            if newest <= after:
                continue
            readings = self.history.readings_after(sensor, after)
            seen = [r for r in readings if watermark is not None and r.ts_ms <= watermark]
            if seen:  # judged before: memory only
                series = self._series_of(sensor, seen[0].kind)
                series.extend(seen)
                series.trim()
            fresh = readings[len(seen) :]
            for i in range(0, len(fresh), chunk):
                self.process(fresh[i : i + chunk], self._clock())
            replayed += len(fresh)
        if replayed:
            log.info("rule engine: replayed %d stored readings not judged before", replayed)
        return replayed

    def _run(self) -> None:
        while self.history is not None:
            try:
                self.replay(self._clock())
                break
            except Exception:  # InfluxDB or the store is down: new batches wait behind
                log.exception("rule engine replay failed; retrying")
                time.sleep(self._retry_s)
        last_tick = 0.0
        while True:
            # A short wait when state is unsaved: a quiet moment is when to save it.
            wait_s = IDLE_SAVE_S if self._dirty else self._tick_s
            try:
                first = self._queue.get(timeout=max(min(wait_s, self._tick_s), 0.05))
            except queue.Empty:
                first = ()
            batch = self._gather(first)
            stop = any(b is None for b in batch)
            readings = [r for b in batch if b for r in b]
            while True:
                try:
                    now_ms = self._clock()
                    if readings:
                        self.process(readings, now_ms)
                    if time.monotonic() - last_tick >= self._tick_s:
                        last_tick = time.monotonic()
                        self.tick(now_ms)
                    if stop or not readings:  # quiet (or stopping): save what is unsaved
                        self.checkpoint(now_ms)
                    break
                except Exception:  # the store is down: keep the readings, try again
                    log.exception("rule engine round failed; retrying")
                    time.sleep(self._retry_s)
            for b in batch:
                if b != ():
                    self._queue.task_done()
            if stop:
                return

    def _gather(self, first: Sequence[Stored] | None) -> list[Sequence[Stored] | None]:
        """One round: what is queued, waiting up to `round_s` for `round_readings`.

        Large rounds judge each sensor's readings together; a case opens at most
        `round_s` later for it.
        """
        batch = [first]
        count = len(first) if first else 0
        deadline = time.monotonic() + self._round_s
        while first and count < self._round_readings and len(batch) < self._queue.maxsize:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            batch.append(item)
            if item is None:
                break
            count += len(item)
        return batch

    # -- deciding -------------------------------------------------------------------

    def _refresh_registry(self) -> None:
        if self._db.registry_version() != self._registry.version:
            self._registry = self._db.load_registry()
            self._limits.clear()

    def _limits_of(self, site: Site) -> SiteLimits:
        limits = self._limits.get(site.id)
        if limits is None:
            limits = self._limits[site.id] = self.policy.site_limits(site)
        return limits

    def process(self, items: Sequence[Stored], now_ms: int) -> None:
        """Judge durable readings and statuses at `now_ms`; apply the decisions in one transaction.

        Per sensor, statuses keep their place among the readings (a last will, then the
        backfill after the reconnect); readings between two statuses are judged by time.
        The rules' new state is saved in the same transaction when a case changed, else
        at most every `checkpoint_s` (and when the queue runs empty): what a crash loses
        of it is judged again from InfluxDB at start, and adds nothing (see the module).
        """
        self._refresh_registry()
        by_sensor: dict[str, list[Stored]] = defaultdict(list)
        for item in items:
            by_sensor[item.sensor].append(item)
        changes: list[CaseChange] = []
        states = dict(self._states)
        judged: list[str] = []
        self._snapshots.begin()
        with self._db.cases() as tx:
            for sensor_id, stored in by_sensor.items():
                site = self._site_of(sensor_id)
                if site is None:
                    continue
                state = states.get(sensor_id) or SensorState(sensor_id)
                for run in _runs(stored):
                    if isinstance(run, DeviceStatus):
                        state, events = judge_status(self.policy, site, state, run, now_ms)
                    else:
                        series = self._series_of(sensor_id, run[0].kind)
                        limits = self._limits_of(site)
                        state, events = judge_readings(
                            self.policy, site, state, series, run, now_ms, limits
                        )
                    for event in events:
                        changes += self._decide(tx, site, state, event, now_ms)
                if state is not states.get(sensor_id):
                    states[sensor_id] = state
                    judged.append(sensor_id)
            dirty = self._dirty.union(judged)
            due = time.monotonic() - self._saved_at >= self._checkpoint_s
            if dirty and (changes or due):
                _save_states(tx, states, dirty, now_ms)
                dirty = set()
        self._states = states
        self._dirty = dirty
        if not dirty:
            self._saved_at = time.monotonic()
        self._snapshots.keep()
        self.judged += len(items)
        self._told(changes)

    def checkpoint(self, now_ms: int) -> None:
        """Save the rules' state of every sensor judged since the last save."""
        if self._dirty:
            with self._db.cases() as tx:
                _save_states(tx, self._states, self._dirty, now_ms)
            self._dirty = set()
        self._saved_at = time.monotonic()

    def tick(self, now_ms: int) -> None:
        """Silent sensors, escalation, verification windows, finished snapshots."""
        self._refresh_registry()
        changes: list[CaseChange] = []
        states = dict(self._states)
        changed: list[str] = []
        self._snapshots.begin()
        with self._db.cases() as tx:
            for sensor_id, state in states.items():
                site = self._site_of(sensor_id)
                if site is None:
                    continue
                new, events = judge_silence(self.policy, site, state, now_ms)
                if events:
                    states[sensor_id] = new
                    changed.append(sensor_id)
                    for event in events:
                        changes += self._decide(tx, site, new, event, now_ms)
            for case in tx.not_closed():
                changes += self._age(tx, case, now_ms)
            _save_states(tx, states, changed, now_ms)
        self._states = states
        self._snapshots.keep()
        self._told(changes)
        self._snapshots.fill(self._db, self._watermark, now_ms)

    def _watermark(self, sensor: str) -> int | None:
        state = self._states.get(sensor)
        return None if state is None else state.watermark_ms

    def _site_of(self, sensor_id: str) -> Site | None:
        sensor = self._registry.sensors.get(sensor_id)
        return None if sensor is None else self._registry.sites.get(sensor.site)

    def _decide(
        self, tx: CaseTx, site: Site, state: SensorState, event: Event, now_ms: int
    ) -> list[CaseChange]:
        """One judge event → case changes: open, add an occurrence, reopen, or recover.

        An occurrence is an episode (rules/breaches.py), identified by (case, sensor,
        window start): its BREACH opens the case or adds it, with a timeline entry; its
        EXTEND and CLEAR only grow its window, worst value and evidence snapshot, with no
        timeline entry, and tell nobody. Breach cases are resolved by people, never by
        linli: a CLEAR changes no case state.
        """
        case = tx.active_case(site.id, event.rule.value)
        if event.signal is Signal.EXTEND or event.signal is Signal.CLEAR:
            if case is None or event.breach is None:
                return []
            assert case.id is not None
            self._snapshots.grow(tx, case.id, event.breach, now_ms)
            if event.signal is Signal.CLEAR:
                return []
            return self._still_over(tx, case, event.breach, now_ms)
        if event.signal is Signal.RECOVER:
            if case is None:
                return []
            moved, entry = apply(case, Action.RECOVER, now_ms, ACTOR, "sensor recovered")
            tx.update_case(moved, entry)
            return [CaseChange(moved, entry)]
        breach = event.breach
        assert breach is not None
        note = breach.summary + (" (late data 迟到数据)" if breach.late else "")
        if case is None:
            first = Level.MERCHANT if site.merchant is not None else Level.GRID_WORKER
            kind = CaseKind.DEVICE if event.rule in DEVICE_RULES else CaseKind.BREACH
            late = " [迟到数据 late data]" if breach.late else ""
            new = Case(
                site=site.id,
                grid=site.grid,
                rule=event.rule.value,
                kind=kind,
                sensor=breach.sensor,
                title=f"{site.name}: {TITLES[event.rule.value]}{late}",
                opened_ms=now_ms,
                first_level=first,
                late=breach.late,
            )
            opened, entry = open_case(new, ACTOR, note)
            moved = tx.insert_case(opened)
            assert moved.id is not None
            tx.add_timeline(moved.id, entry)
        elif tx.has_occurrence(case.id, breach.sensor, breach.start_ms):  # type: ignore[arg-type]
            return []  # the same episode judged again (a replay): nothing new
        else:
            moved, entry = apply(case, Action.OCCUR, now_ms, ACTOR, note)
            tx.update_case(moved, entry)
        assert moved.id is not None
        series = self._series.get(breach.sensor)
        self._snapshots.add(tx, moved.id, breach, now_ms, series, state.recent)
        return [CaseChange(moved, entry)]

    def _still_over(self, tx: CaseTx, case: Case, breach: Breach, now_ms: int) -> list[CaseChange]:
        """A resolved case whose episode goes on past the resolution: it recurred (reopened).

        The episode still grows a whole rule window after the case was resolved (so not
        merely a rolling window that still holds the loud minutes before it): the fix did
        not hold, the verification window's recurrence, as a new episode's breach would be.
        """
        window_ms = self.policy.episode_window_s(breach.rule) * 1000
        if (
            case.state is not CaseState.RESOLVED
            or case.resolved_ms is None
            or breach.end_ms - window_ms <= case.resolved_ms
        ):
            return []
        note = f"still over the limit after it was resolved: {breach.summary}"
        moved, entry = apply(case, Action.REOPEN, now_ms, ACTOR, note)  # the same occurrence
        tx.update_case(moved, entry)
        return [CaseChange(moved, entry)]

    def _age(self, tx: CaseTx, case: Case, now_ms: int) -> list[CaseChange]:
        out: list[CaseChange] = []
        if verification_due(case, self.policy.verification_s, now_ms):
            moved, entry = apply(case, Action.VERIFY, now_ms, ACTOR, "no recurrence")
            tx.update_case(moved, entry)
            return [CaseChange(moved, entry)]
        target = due_level(case, self.policy.escalation, now_ms)
        while case.level is not target:
            case, entry = apply(case, Action.ESCALATE, now_ms, ACTOR, f"escalated to {target}")
            tx.update_case(case, entry)
            out.append(CaseChange(case, entry))
        return out

    # -- telling --------------------------------------------------------------------

    def _told(self, changes: Sequence[CaseChange]) -> None:
        if changes and self._tell is not None:
            try:
                self._tell(changes)
            except Exception:  # telling never undoes a decision
                log.exception("could not tell %d case changes", len(changes))


def _save_states(
    tx: CaseTx, states: Mapping[str, SensorState], sensors: Iterable[str], now_ms: int
) -> None:
    tx.save_states({s: state_doc(states[s]) for s in sensors}, now_ms)


def _runs(stored: Sequence[Stored]) -> list[DeviceStatus | list[Reading]]:
    """Split one sensor's items at its statuses; each run of readings sorted by time."""
    by_time = operator.attrgetter("ts_ms")
    if DeviceStatus not in map(type, stored):  # the common case: readings only
        return [sorted(stored, key=by_time)]  # type: ignore[arg-type]
    out: list[DeviceStatus | list[Reading]] = []
    run: list[Reading] = []
    for item in stored:
        if isinstance(item, DeviceStatus):
            if run:
                out.append(sorted(run, key=by_time))
                run = []
            out.append(item)
        else:
            run.append(item)
    if run:
        out.append(sorted(run, key=by_time))
    return out
