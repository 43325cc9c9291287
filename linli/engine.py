"""The rule engine: durable readings in, case changes out (STYLE §5–7).

Ingest's writer hands every durable batch to `Engine.submit`, which only enqueues: the
hot path stays fast. One engine thread takes `now` once per round, judges the readings
by the pure rules (rules/judge.py), and applies the resulting decisions to the case
store in one transaction together with the rules' new memory, so a restart mid-breach
neither repeats nor misses a case. A periodic tick finds silent sensors, escalates
cases on schedule and closes resolved ones whose verification window passed. Telling
(the `case_event` points for Grafana) happens after the transaction, as its own stage.

A full queue blocks the writer: the writer stops acknowledging, the MQTT loop stops
reading and the broker holds the rest (the same backpressure as a full spool).

A batch is acknowledged once durable, before it is judged: if linli dies in between, the
broker will not redeliver it. So at start the engine first replays from InfluxDB each
sensor's readings after its watermark (the newest reading time it judged, saved with the
rule state), through the same judge path. What the broker also redelivers is judged once
(`SensorState.judged`), and an occurrence is kept once per (case, sensor, window end).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from linli.history import ReadingHistory
from linli.rules.case import (
    Action,
    Case,
    CaseKind,
    Level,
    TimelineEntry,
    apply,
    due_level,
    open_case,
    verification_due,
)
from linli.rules.constants import M_CASE_EVENT
from linli.rules.judge import (
    DEVICE_RULES,
    Event,
    SensorState,
    Signal,
    judge_reading,
    judge_silence,
    judge_status,
)
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading
from linli.rules.registry import Registry, Site
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


@dataclass(frozen=True, slots=True)
class CaseChange:
    """One change to tell the world about (a `case_event` point)."""

    case: Case
    entry: TimelineEntry


def _escape_tag(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")


def _escape_str(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def case_event_line(change: CaseChange) -> str:
    """CONTRACT §4 `case_event`: tags site, grid, rule, kind; fields case_id, state, title."""
    c = change.case
    tags = ",".join(
        f"{k}={_escape_tag(v)}"
        for k, v in (("grid", c.grid), ("kind", c.kind.value), ("rule", c.rule), ("site", c.site))
    )
    fields = (
        f'case_id={c.id}i,state="{c.state.value}",title="{_escape_str(c.title)}",'
        f'action="{change.entry.action.value}"'
    )
    return f"{M_CASE_EVENT},{tags} {fields} {change.entry.at_ms}"


Tell = Callable[[Sequence[CaseChange]], None]
Stored = Reading | DeviceStatus  # what the writer hands over once durable, in arrival order


class Engine:
    """Judges readings per (site, rule) and keeps the cases; one thread, `now` per round."""

    def __init__(
        self,
        db: Database,
        policy: RulePolicy,
        *,
        tell: Tell | None = None,
        queue_batches: int = 64,
        tick_s: float = 10.0,
        retry_s: float = 1.0,
        clock: Callable[[], int] | None = None,
        history: ReadingHistory | None = None,
        replay_s: int = 24 * 3600,
    ) -> None:
        self._db = db
        self._history = history
        self._replay_s = replay_s
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.policy = policy
        self._tell = tell
        self._queue: queue.Queue[Sequence[Stored] | None] = queue.Queue(maxsize=queue_batches)
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._registry: Registry = db.load_registry()
        with db.cases() as tx:
            self._states = {s: state_of(s, d) for s, d in tx.load_states().items()}
            # sensor → [(evidence id, snapshot until (reading time), give up at (wall time))]
            self._pending: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
            for evidence_id, sensor, until_ms, at_ms in tx.pending_snapshots():
                self._pending[sensor].append(
                    (evidence_id, until_ms, self._give_up(until_ms, at_ms))
                )
        self._thread: threading.Thread | None = None
        self._busy = 0
        self.judged = 0

    def _give_up(self, until_ms: int, noticed_ms: int) -> int:
        """When a snapshot stops waiting for readings: late data keeps arriving for a while."""
        margin = self.policy.evidence_margin_s * 1000
        return max(until_ms, noticed_ms + margin) + margin

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
        """Nothing queued and nothing being judged."""
        return self._queue.unfinished_tasks == 0

    def replay(self, now_ms: int, chunk: int = 5000) -> int:
        """Judge durable readings newer than each sensor's watermark (at most `replay_s` old).

        Readings acknowledged but not judged when linli died are in InfluxDB (or still in
        the spool: those are judged only once the replayer has written them and linli
        starts again). Returns the number of readings replayed.
        """
        if self._history is None:
            return 0
        horizon = now_ms - self._replay_s * 1000
        replayed = 0
        for sensor, newest in sorted(self._history.newest(horizon).items()):
            state = self._states.get(sensor)
            after = max(horizon, state.watermark_ms or horizon) if state else horizon
            if newest <= after or self._site_of(sensor) is None:
                continue
            readings = self._history.readings_after(sensor, after)
            for i in range(0, len(readings), chunk):
                self.process(readings[i : i + chunk], self._clock())
            replayed += len(readings)
        if replayed:
            log.info("rule engine: replayed %d stored readings not judged before", replayed)
        return replayed

    def _run(self) -> None:
        while self._history is not None:
            try:
                self.replay(self._clock())
                break
            except Exception:  # InfluxDB or the store is down: new batches wait behind
                log.exception("rule engine replay failed; retrying")
                time.sleep(self._retry_s)
        last_tick = 0.0
        while True:
            try:
                first = self._queue.get(timeout=self._tick_s if self._tick_s > 0 else 0.05)
            except queue.Empty:
                first = ()
            batch = [first]
            while len(batch) < 100:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
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
                    break
                except Exception:  # the store is down: keep the readings, try again
                    log.exception("rule engine round failed; retrying")
                    time.sleep(self._retry_s)
            for b in batch:
                if b != ():
                    self._queue.task_done()
            if stop:
                return

    # -- deciding -------------------------------------------------------------------

    def _refresh_registry(self) -> None:
        if self._db.registry_version() != self._registry.version:
            self._registry = self._db.load_registry()

    def process(self, items: Sequence[Stored], now_ms: int) -> None:
        """Judge durable readings and statuses at `now_ms`; apply the decisions in one transaction.

        Per sensor, statuses keep their place among the readings (a last will, then the
        backfill after the reconnect); readings between two statuses are judged by time.
        """
        self._refresh_registry()
        by_sensor: dict[str, list[Stored]] = defaultdict(list)
        for item in items:
            by_sensor[item.sensor].append(item)
        changes: list[CaseChange] = []
        states = dict(self._states)
        judged: list[str] = []
        with self._db.cases() as tx:
            for sensor_id, stored in by_sensor.items():
                site = self._site_of(sensor_id)
                if site is None:
                    continue
                state = states.get(sensor_id) or SensorState(sensor_id)
                for run in _runs(stored):
                    if isinstance(run, DeviceStatus):
                        state, events = judge_status(self.policy, site, state, run, now_ms)
                        for event in events:
                            changes += self._decide(tx, site, state, event, now_ms)
                        continue
                    for r in run:
                        state, events = judge_reading(self.policy, site, state, r, now_ms)
                        for event in events:
                            changes += self._decide(tx, site, state, event, now_ms)
                    self._collect_snapshots(tx, sensor_id, run, now_ms)
                if state is not states.get(sensor_id):
                    states[sensor_id] = state
                    judged.append(sensor_id)
            tx.save_states({s: state_doc(states[s]) for s in judged}, now_ms)
        self._states = states
        self.judged += len(items)
        self._told(changes)

    def tick(self, now_ms: int) -> None:
        """Silent sensors, escalation, verification windows, finished snapshots."""
        self._refresh_registry()
        changes: list[CaseChange] = []
        states = dict(self._states)
        changed: list[str] = []
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
            for sensor_id, pending in list(self._pending.items()):
                for item in [p for p in pending if now_ms > p[2]]:
                    tx.extend_snapshot(item[0], (), done=True)
                    pending.remove(item)
                if not pending:
                    del self._pending[sensor_id]
            tx.save_states({s: state_doc(states[s]) for s in changed}, now_ms)
        self._states = states
        self._told(changes)

    def _site_of(self, sensor_id: str) -> Site | None:
        sensor = self._registry.sensors.get(sensor_id)
        return None if sensor is None else self._registry.sites.get(sensor.site)

    def _decide(
        self, tx: CaseTx, site: Site, state: SensorState, event: Event, now_ms: int
    ) -> list[CaseChange]:
        """One judge event → case changes: open, add an occurrence, reopen, or recover."""
        if event.signal is Signal.CLEAR:
            return []  # breach cases are resolved by people, never by linli
        case = tx.active_case(site.id, event.rule.value)
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
        elif tx.has_occurrence(case.id, breach.sensor, breach.end_ms):  # type: ignore[arg-type]
            return []  # the same window judged again (a replay): nothing new
        else:
            moved, entry = apply(case, Action.OCCUR, now_ms, ACTOR, note)
            tx.update_case(moved, entry)
        assert moved.id is not None
        margin = self.policy.evidence_margin_s * 1000
        around = {(r.ts_ms, r.seq): r for r in (*state.buffer, *state.recent)}
        snapshot = sorted(
            (r for r in around.values() if r.ts_ms >= breach.start_ms - margin),
            key=lambda r: r.ts_ms,
        )
        until_ms = breach.end_ms + margin
        evidence_id = tx.add_occurrence(moved.id, breach, now_ms, snapshot, until_ms)
        give_up = self._give_up(until_ms, now_ms)
        self._pending[breach.sensor].append((evidence_id, until_ms, give_up))
        return [CaseChange(moved, entry)]

    def _collect_snapshots(
        self, tx: CaseTx, sensor_id: str, readings: Sequence[Reading], now_ms: int
    ) -> None:
        pending = self._pending.get(sensor_id)
        if not pending:
            return
        for item in list(pending):
            evidence_id, until_ms, _ = item
            after = [r for r in readings if r.ts_ms <= until_ms]
            done = any(r.ts_ms > until_ms for r in readings)
            if after or done:
                tx.extend_snapshot(evidence_id, after, done)
            if done:
                pending.remove(item)

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


def _runs(stored: Sequence[Stored]) -> list[DeviceStatus | list[Reading]]:
    """Split one sensor's items at its statuses; each run of readings sorted by time."""
    out: list[DeviceStatus | list[Reading]] = []
    run: list[Reading] = []
    for item in stored:
        if isinstance(item, DeviceStatus):
            if run:
                out.append(sorted(run, key=lambda r: r.ts_ms))
                run = []
            out.append(item)
        else:
            run.append(item)
    if run:
        out.append(sorted(run, key=lambda r: r.ts_ms))
    return out


def influx_teller(write: Callable[[bytes], None]) -> Tell:
    """Write case changes as `case_event` points (Grafana annotations)."""

    def tell(changes: Sequence[CaseChange]) -> None:
        write(("\n".join(case_event_line(c) for c in changes) + "\n").encode())

    return tell
