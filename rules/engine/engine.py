"""The rule engine: durable readings in, case changes out (STYLE §5–7).

Ingest's writer hands every durable batch to `Engine.submit`, which only enqueues: the
hot path stays fast. One engine thread takes `now` once per round, judges the readings
by the pure rules (rules/judge.py, rules/breaches.py), decides what each event does to
its case (rules/engine/decide.py, pure too) and applies the decisions to the case store
(the `CaseStore` port, rules/ports.py) in one transaction together with the rules' new
memory, so a restart mid-breach neither repeats nor misses a case. A periodic tick finds
silent sensors, escalates cases on schedule and closes resolved ones whose verification
window passed (`decide.age`). Telling is its own stage: the `Teller`s are given each
transaction's case changes inside it (an outbox's rows commit with them), the post-commit
`Tell` (the `case_event` points for Grafana) after it.

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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Final

from linli.rules.checkpoint import Claim, StaleOwner
from linli.rules.constants import TS_MAX_AGE_MS
from linli.rules.engine.decide import CaseChange, Decision, age, decide
from linli.rules.engine.evidence import Snapshots
from linli.rules.events import Event, Signal
from linli.rules.judge import (
    SensorState,
    judge_readings,
    judge_silence,
    judge_status,
    keep_ms,
)
from linli.rules.policy import RulePolicy, SiteLimits
from linli.rules.ports import CaseStore, CaseTx, ReadingHistory, Tell, Teller
from linli.rules.reading import DeviceStatus, Reading, SensorKind
from linli.rules.registry import Registry, Site
from linli.rules.series import Series

log = logging.getLogger(__name__)

IDLE_SAVE_S: Final = 0.2  # a queue quiet this long: save the rules' state

Stored = Reading | DeviceStatus  # what the writer hands over once durable, in arrival order
# `owns` of an engine that judges only the partitions it gains (CONTRACT §12)
OWNS_NOTHING: Final[Callable[[str], bool]] = frozenset[str]().__contains__
NEW_EPISODE: Final = (Signal.BREACH, Signal.FAULT)  # the events an occurrence is added by


class Sites:
    """The registry as the engine knows it, reloaded when the store's version moved, and
    each site's limits in force worked out once per registry."""

    def __init__(self, store: CaseStore, policy: RulePolicy) -> None:
        self._store = store
        self._policy = policy
        self._registry: Registry = store.load_registry()
        self._limits: dict[str, SiteLimits] = {}

    def refresh(self) -> None:
        """Reload the registry if grids, sites or sensors changed (once per round)."""
        if self._store.registry_version() != self._registry.version:
            self._registry = self._store.load_registry()
            self._limits.clear()

    def site_of(self, sensor_id: str) -> Site | None:
        """The site of a registered sensor."""
        sensor = self._registry.sensors.get(sensor_id)
        return None if sensor is None else self._registry.sites.get(sensor.site)

    def policy_of(self, site_id: str) -> RulePolicy:
        """The rule policy of a site: its community's (CONTRACT §9)."""
        return self._policy.of(self._registry.community_of(site_id))

    def sensors_of(self, owns: Callable[[str], bool]) -> list[str]:
        """The registered sensors of the sites `owns` accepts."""
        return [s.id for s in self._registry.sensors.values() if owns(s.site)]

    def limits_of(self, site: Site) -> SiteLimits:
        """Every limit in force at a site."""
        limits = self._limits.get(site.id)
        if limits is None:
            limits = self._limits[site.id] = self.policy_of(site.id).site_limits(site)
        return limits


class Engine:
    """Judges readings per (site, rule) and keeps the cases; one thread, `now` per round."""

    def __init__(
        self,
        db: CaseStore,
        policy: RulePolicy,
        *,
        tell: Tell | None = None,
        tellers: Sequence[Teller] = (),
        queue_batches: int = 16,
        tick_s: float = 10.0,
        retry_s: float = 1.0,
        clock: Callable[[], int] | None = None,
        history: ReadingHistory | None = None,
        replay_s: int = 24 * 3600,
        checkpoint_s: float = 5.0,
        round_readings: int = 50_000,
        round_s: float = 0.1,
        owns: Callable[[str], bool] | None = None,
    ) -> None:
        self._db = db
        self.history = history
        self._replay_s = replay_s
        self._clock = clock or (lambda: time.time_ns() // 1_000_000)
        self.policy = policy
        self._tell = tell
        self._tellers = tuple(tellers)
        self._queue: queue.Queue[Sequence[Stored] | None] = queue.Queue(maxsize=queue_batches)
        self._tick_s = tick_s
        self._retry_s = retry_s
        self._sites = Sites(db, policy)
        # The share it owns (CONTRACT §12): None, every site (one engine for the deployment);
        # else the sites `owns` accepts and those of the partitions gained (`gain`).
        self._owns = owns
        self._parts: dict[int, tuple[Claim, Callable[[str], bool]]] = {}
        self._site_part: dict[str, int | None] = {}  # a site's owning partition (None: `owns`)
        self._lock = threading.RLock()  # process, tick, gain, lose: one at a time
        sensors = None if owns is None else self._sites.sensors_of(owns)
        with db.cases() as tx:
            self._states = tx.load_states(sensors=sensors)
            pending = tx.pending_snapshots()
        if sensors is not None:
            pending = [p for p in pending if p.sensor in set(sensors)]
        self._snapshots = Snapshots(policy.evidence_margin_s, history, pending)
        # each sensor's window of readings: as long as the longest community's needs
        self._keep_ms = max(keep_ms(p) for p in (policy, *policy.communities.values()))
        self._series: dict[str, Series] = {}
        self._dirty: set[str] = set()  # sensors whose state is newer than the saved one
        self._saved_at = time.monotonic()
        self._checkpoint_s = checkpoint_s
        self._round_readings = round_readings
        self._round_s = round_s
        self._thread: threading.Thread | None = None
        self.judged = 0
        self.skipped = 0  # readings of batches at or below their partition's checkpoint
        self.foreign = 0  # readings of sites this engine does not own: ignored
        self.late = 0  # readings judged after a newer one of their sensor: out of order

    def _series_of(self, sensor: str, kind: SensorKind) -> Series:
        series = self._series.get(sensor)
        if series is None:
            series = self._series[sensor] = Series(kind, self._keep_ms)
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

    def replay(
        self,
        now_ms: int,
        chunk: int = 5000,
        *,
        sensors: Collection[str] | None = None,
        part: int | None = None,
        judge: bool = True,
    ) -> int:
        """Refill each sensor's series from InfluxDB and judge what is newer than its watermark.

        Readings acknowledged but not judged when linli died are in InfluxDB (those still
        in the spool come from the writer at start). Of a sensor never judged, only
        readings at most `replay_s` old are judged. A sensor judged before gets back the
        window before its watermark however old it is (as old as a reading can be: taken
        a week before it came, a week waiting in a stream), and what came after it is
        judged: a night's readings a day late, judged across a restart, find the night's
        first half in memory. Of every sensor this engine owns or only of `sensors` (a
        partition gained: its commits then fenced by `part`'s claim). Returns the number
        judged. Without `judge` only the memory is refilled: what is newer comes again in
        order (a partition's stream from its checkpoint, see `gain`).
        """
        if self.history is None:
            return 0
        with self._lock:
            horizon = now_ms - self._replay_s * 1000
            floor = now_ms - 2 * TS_MAX_AGE_MS
            keep = self._keep_ms
            listed: dict[str, int | None] = dict(self.history.newest(horizon))
            # judged before, its window reaching past the horizon: its newest is not listed
            for sensor in self._states if sensors is None else sensors:
                mark = self._watermark(sensor)
                if sensor not in listed and mark is not None and floor <= mark - keep < horizon:
                    listed[sensor] = None  # read to see
            replayed = 0
            for sensor, newest in sorted(listed.items()):
                if sensors is not None and sensor not in sensors:
                    continue
                watermark = self._watermark(sensor)
                site = self._sites.site_of(sensor)
                if site is None or not self._judges(site.id, part):
                    continue
                after = horizon if watermark is None else max(floor, watermark - keep)
                if newest is not None and newest <= after:
                    continue
                readings = self.history.readings_after(sensor, after)
                seen = [r for r in readings if watermark is not None and r.ts_ms <= watermark]
                if seen:  # judged before: memory only
                    series = self._series_of(sensor, seen[0].kind)
                    series.extend(seen)
                    series.trim()
                fresh = readings[len(seen) :] if judge else []
                for i in range(0, len(fresh), chunk):
                    self.process(fresh[i : i + chunk], self._clock(), part=part)
                replayed += len(fresh)
            if replayed:
                log.info("rule engine: replayed %d stored readings not judged before", replayed)
            return replayed

    # -- owning a share (CONTRACT §12) ----------------------------------------------

    def gain(self, claim: Claim, owns: Callable[[str], bool]) -> int:
        """Own a partition: the sites `owns` accepts, fenced by `claim` (store/partitions.py).

        Their sensors' saved rule state and pending evidence are loaded and their window
        read back from InfluxDB into memory (`replay` without judging), before their first
        batch. A partition's state is saved with each of its checkpoints (`process`), so
        every reading after the state's watermark comes from the partition's stream after
        the checkpoint, in order: judging InfluxDB's newer readings here instead would
        judge them ahead of the stream, and the stream's older ones (fallen out of the
        window meanwhile) as late data, twice. Returns the readings judged (0); raises
        `StaleOwner` (the partition dropped again) when another owner claimed it
        meanwhile.
        """
        if self._owns is None:
            raise ValueError("an engine judging every site owns no partition: give it `owns`")
        with self._lock:
            self._sites.refresh()
            self._parts[claim.part] = (claim, owns)
            self._site_part.clear()
            sensors = set(self._sites.sensors_of(owns))
            with self._db.cases() as tx:
                tx.advance(claim, claim.seq)  # still ours: else nothing loaded
                states = tx.load_states(sensors=sensors)
                pending = [p for p in tx.pending_snapshots() if p.sensor in sensors]
            for sensor in sensors:  # what a former share of it left in memory is stale
                self._series.pop(sensor, None)
                self._states.pop(sensor, None)
                self._dirty.discard(sensor)
            self._states = {**self._states, **states}
            self._snapshots.drop(sensors)
            self._snapshots.take(pending)
            try:
                return self.replay(self._clock(), sensors=sensors, part=claim.part, judge=False)
            except StaleOwner:
                self.lose(claim.part)
                raise

    def lose(self, part: int) -> None:
        """Stop owning a partition: its sensors' memory dropped. What was judged and not yet
        saved the next owner judges again from InfluxDB (`gain`), adding nothing."""
        with self._lock:
            held = self._parts.pop(part, None)
            if held is None:
                return
            owns = held[1]
            self._site_part.clear()
            gone = set()
            for sensor in (*self._states, *self._series):
                site = self._sites.site_of(sensor)
                if site is not None and owns(site.id) and not self._judges(site.id, None):
                    gone.add(sensor)
            self._states = {s: st for s, st in self._states.items() if s not in gone}
            for sensor in gone:
                self._series.pop(sensor, None)
                self._dirty.discard(sensor)
            self._snapshots.drop(gone)

    def claims(self) -> dict[int, Claim]:
        """The partitions owned, each at its last committed sequence."""
        with self._lock:
            return {part: claim for part, (claim, _) in self._parts.items()}

    def _part_of(self, sensor: str) -> int | None:
        """The gained partition a sensor's site belongs to, if any."""
        site = self._sites.site_of(sensor)
        return None if site is None else self._site_part_of(site.id)

    def _fence(self, tx: CaseTx) -> None:
        """Inside a transaction saving state or aging cases of every share: each claim must
        still hold (a stale one: everything rolls back, that partition is dropped)."""
        for part, (claim, _) in list(self._parts.items()):
            try:
                tx.advance(claim, claim.seq)
            except StaleOwner:
                self.lose(part)
                raise

    def _site_part_of(self, site_id: str) -> int | None:
        if site_id not in self._site_part:
            found = [p for p, (_, owns) in self._parts.items() if owns(site_id)]
            self._site_part[site_id] = found[0] if found else None
        return self._site_part[site_id]

    def _judges(self, site_id: str, part: int | None) -> bool:
        """Whether this engine judges the site: every site (no share), the batch's
        partition's sites, or (no partition given) the sites it owns."""
        if self._owns is None:
            return True
        if part is not None:
            return self._site_part_of(site_id) == part
        return self._owns(site_id) or self._site_part_of(site_id) is not None

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

    # -- judging and deciding -------------------------------------------------------

    def process(
        self,
        items: Sequence[Stored],
        now_ms: int,
        *,
        part: int | None = None,
        seq: int | None = None,
    ) -> bool:
        """Judge durable readings and statuses at `now_ms`; apply the decisions in one transaction.

        Per sensor, statuses keep their place among the readings (a last will, then the
        backfill after the reconnect); readings between two statuses are judged by time.
        The rules' new state is saved in the same transaction when a case changed, else
        at most every `checkpoint_s` (and when the queue runs empty): what a crash loses
        of it is judged again from InfluxDB at start, and adds nothing (see the module).

        A batch of a gained partition (`part`, its last stream sequence `seq`) advances the
        partition's checkpoint first in the same transaction: a batch at or below it was
        committed before (delivered again after a crash) and is skipped (returns False);
        a claim another owner took raises `StaleOwner`, nothing committed, the partition
        dropped. Readings of sites the engine does not judge are ignored and counted
        (`foreign`: a sensor moved to another site while its readings were on their way).
        """
        with self._lock:
            held = None
            if part is not None:
                held = self._parts.get(part)
                if held is None:
                    raise StaleOwner(Claim("", part, 0, 0), seq or 0)
                if seq is not None and seq <= held[0].seq:
                    self.skipped += len(items)
                    return False
            try:
                claim = self._process(items, now_ms, part, seq, held)
            except StaleOwner:
                if part is not None:
                    self.lose(part)
                raise
            if held is not None and claim is not None:
                self._parts[claim.part] = (claim, held[1])
            return True

    def _process(
        self,
        items: Sequence[Stored],
        now_ms: int,
        part: int | None,
        seq: int | None,
        held: tuple[Claim, Callable[[str], bool]] | None,
    ) -> Claim | None:
        self._sites.refresh()
        by_sensor: dict[str, list[Stored]] = defaultdict(list)
        for item in items:
            by_sensor[item.sensor].append(item)
        changes: list[CaseChange] = []
        states = dict(self._states)
        judged: list[str] = []
        claim = None
        shared = self._owns is not None
        self._snapshots.begin()
        with self._db.cases() as tx:
            if held is not None:  # first: its row lock makes a racing owner wait, then fail
                claim = tx.advance(held[0], held[0].seq if seq is None else seq)
            elif self._parts:  # not one partition's batch: every claim must hold
                self._fence(tx)
            for sensor_id, stored in by_sensor.items():
                site = self._sites.site_of(sensor_id)
                if site is None:
                    continue
                if shared and not self._judges(site.id, part):
                    self.foreign += len(stored)
                    continue
                state = states.get(sensor_id) or SensorState(sensor_id)
                policy = self._sites.policy_of(site.id)
                for run in _runs(stored):
                    if isinstance(run, DeviceStatus):
                        state, events = judge_status(policy, site, state, run, now_ms)
                    else:
                        series = self._series_of(sensor_id, run[0].kind)
                        self._count_late(state, series, run)
                        limits = self._sites.limits_of(site)
                        state, events = judge_readings(
                            policy, site, state, series, run, now_ms, limits
                        )
                    for event in events:
                        changes += self._event(tx, site, state, event, now_ms)
                if state is not states.get(sensor_id):
                    states[sensor_id] = state
                    judged.append(sensor_id)
            dirty = self._dirty.union(judged)
            due = time.monotonic() - self._saved_at >= self._checkpoint_s
            if dirty and (changes or due or held is not None):
                # a partition's transaction saves its own sensors' state only (others'
                # are fenced by their own claims), with every checkpoint: the next owner
                # reads on from the checkpoint, and the state must be where it is (`gain`)
                saving = dirty if part is None else {s for s in dirty if self._part_of(s) == part}
                _save_states(tx, states, saving, now_ms)
                dirty = dirty - saving
            self._tell_within(tx, changes)
        self._states = states
        self._dirty = dirty
        if not dirty:
            self._saved_at = time.monotonic()
        self._snapshots.keep()
        self.judged += len(items)
        self._told(changes)
        return claim

    def _count_late(self, state: SensorState, series: Series, run: Sequence[Reading]) -> None:
        """Count (and log) the readings of `run` older than one of their sensor judged
        before them and not judged themselves: judged out of order. A sensor's readings
        come in order (CONTRACT §2) unless a device backfills late data, so in a cluster
        (CONTRACT §12) this stays 0: each partition is read in order from its checkpoint.
        A reading judged already (a redelivery) is not late."""
        newest = state.watermark_ms
        late = 0
        for r in run:
            if newest is not None and r.ts_ms <= newest:
                if not series.has(r) and not any(
                    x.ts_ms == r.ts_ms and x.seq == r.seq for x in state.recent
                ):
                    late += 1
            else:
                newest = r.ts_ms
        if late:
            self.late += late
            log.warning(
                "rule engine: %d readings of %s judged out of order (older than %s judged "
                "before them)",
                late,
                state.sensor,
                newest,
            )

    def checkpoint(self, now_ms: int) -> None:
        """Save the rules' state of every sensor judged since the last save."""
        with self._lock:
            if self._dirty:
                with self._db.cases() as tx:
                    self._fence(tx)
                    _save_states(tx, self._states, self._dirty, now_ms)
                self._dirty = set()
            self._saved_at = time.monotonic()

    def tick(self, now_ms: int) -> None:
        """Silent sensors, escalation, verification windows, finished snapshots: of the
        sites this engine judges (a stale partition's claim: `StaleOwner`, nothing kept)."""
        with self._lock:
            self._tick(now_ms)

    def _tick(self, now_ms: int) -> None:
        self._sites.refresh()
        changes: list[CaseChange] = []
        states = dict(self._states)
        changed: list[str] = []
        shared = self._owns is not None
        self._snapshots.begin()
        with self._db.cases() as tx:
            self._fence(tx)
            for sensor_id, state in states.items():
                site = self._sites.site_of(sensor_id)
                if site is None or (shared and not self._judges(site.id, None)):
                    continue
                new, events = judge_silence(self._sites.policy_of(site.id), site, state, now_ms)
                if events:
                    states[sensor_id] = new
                    changed.append(sensor_id)
                    for event in events:
                        changes += self._event(tx, site, new, event, now_ms)
            for case in tx.not_closed():
                if shared and not self._judges(case.site, None):
                    continue
                changes += _write(tx, age(case, self._sites.policy_of(case.site), now_ms))
            _save_states(tx, states, changed, now_ms)
            self._tell_within(tx, changes)
        self._states = states
        self._snapshots.keep()
        self._told(changes)
        self._snapshots.fill(self._db, self._watermark, now_ms)

    def _watermark(self, sensor: str) -> int | None:
        state = self._states.get(sensor)
        return None if state is None else state.watermark_ms

    def _event(
        self, tx: CaseTx, site: Site, state: SensorState, event: Event, now_ms: int
    ) -> list[CaseChange]:
        """One judge event: its case decided (rules/engine/decide.py), the decision written,
        the occurrence's evidence recorded; returns the case changes made."""
        case = tx.active_case(site.id, event.rule.value)
        breach = event.breach
        if (
            case is not None
            and breach is not None
            and event.signal in NEW_EPISODE
            and tx.has_occurrence(case.id, breach.sensor, breach.start_ms)  # type: ignore[arg-type]
        ):
            return []  # the same episode judged again (a replay): nothing new
        decision = decide(event, case, site, self._sites.policy_of(site.id), now_ms)
        changes = _write(tx, decision)
        case = changes[-1].case if changes else case
        if decision.add_occurrence is not None:
            assert case is not None and case.id is not None
            added = decision.add_occurrence
            series = self._series.get(added.sensor)
            self._snapshots.add(tx, case.id, added, now_ms, series, state.recent)
        if decision.grow_occurrence is not None:
            assert case is not None and case.id is not None
            self._snapshots.grow(tx, case.id, decision.grow_occurrence, now_ms)
        return changes

    # -- telling --------------------------------------------------------------------

    def _tell_within(self, tx: CaseTx, changes: Sequence[CaseChange]) -> None:
        """The transaction's changes to the in-transaction tellers (an outbox): what they
        write commits with the changes; one that raises fails the round."""
        if changes:
            for teller in self._tellers:
                teller.tell(tx, changes)

    def _told(self, changes: Sequence[CaseChange]) -> None:
        """The committed changes to the post-commit teller; a failure is only logged."""
        if changes and self._tell is not None:
            try:
                self._tell(changes)
            except Exception:  # telling never undoes a decision
                log.exception("could not tell %d case changes", len(changes))


def _write(tx: CaseTx, decision: Decision) -> list[CaseChange]:
    """A decision's case changes in the store, in order: the first inserted if it opens
    the case; returns them as kept (an opened case with its id)."""
    written: list[CaseChange] = []
    for change in decision.changes:
        if decision.opens and not written:
            kept = tx.insert_case(change.case)
            assert kept.id is not None
            tx.add_timeline(kept.id, change.entry)
            change = CaseChange(kept, change.entry)
        else:
            tx.update_case(change.case, change.entry)
        written.append(change)
    return written


def _save_states(
    tx: CaseTx, states: Mapping[str, SensorState], sensors: Iterable[str], now_ms: int
) -> None:
    tx.save_states({s: states[s] for s in sensors}, now_ms)


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
