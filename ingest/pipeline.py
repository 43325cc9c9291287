"""From messages to batches: parse, account seq, build line protocol (runs on the MQTT thread).

The MQTT loop hands every message to `Pipeline.accept`; the pipeline collects the
message ids, the line protocol and the rejections of up to `max_readings` readings or
`max_age_ms` into a `Batch`, and gives the batch to the writer. Nothing here is
acknowledged: the writer does that once the batch is durable (ingest/writer.py).
"""

from __future__ import annotations

import bisect
import logging
import queue
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter

from linli.ingest.identity import Owned, Unchecked
from linli.ingest.lineprotocol import LineBuilder
from linli.ingest.refusal import Origin
from linli.rules.hj212 import Decoded, unregistered
from linli.rules.identity import CONFLICT, DUPLICATE, FRESH, Identity, RecentReadings, conflict
from linli.rules.parse import parse_message
from linli.rules.policy import RulePolicy
from linli.rules.ports import RegistrySource
from linli.rules.reading import DeviceStatus, Reading
from linli.rules.registry import Registry
from linli.rules.rejection import ReasonCode, Rejection
from linli.rules.sequence import SeqTracker
from linli.store.outage import Outage

log = logging.getLogger(__name__)

# A batch keeps its messages' payloads (a refused point becomes a rejected record with its
# message, ingest/refusal.py); past this many payload bytes it is handed on early.
MAX_HELD_BYTES = 16 << 20


@dataclass(slots=True)
class Batch:
    """Messages whose fate is decided together: stored (or spooled) whole, then acknowledged."""

    epoch: int
    started_ms: int
    mids: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    # For the rule engine (when kept): readings and status messages in arrival order.
    readings: list[Reading | DeviceStatus] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    messages: int = 0
    duplicates: int = 0
    # Where the lines came from: (index of the message's first line, topic, payload,
    # received_ms), one per message; topic "" for linli's own lines (counts, accounting).
    origins: list[tuple[int, str, bytes, int]] = field(default_factory=list)
    held_bytes: int = 0
    # Readings to check against InfluxDB before they are written (rules/identity.py).
    unchecked: list[Unchecked] = field(default_factory=list)
    # Called once the batch is durable: an HJ 212 frame's answer (ingest/hj212.py).
    after: list[Callable[[], None]] = field(default_factory=list)

    def body(self) -> bytes:
        """The batch's line protocol, ready for `/write`."""
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""

    def origin(self, line_index: int) -> Origin | None:
        """The message line `line_index` came from; None for linli's own lines."""
        at = bisect.bisect_right(self.origins, line_index, key=itemgetter(0))
        if at == 0:
            return None
        _, topic, payload, received_ms = self.origins[at - 1]  # the last mark at or before
        return (topic, payload, received_ms) if topic else None


@dataclass(slots=True)
class PipelineStats:
    """Counters since start, for logs, the demo and the benchmark."""

    messages: int = 0
    readings: int = 0
    rejections: int = 0
    duplicates: int = 0
    batches: int = 0


class Pipeline:
    """Turns messages into batches; single-threaded, owned by the MQTT loop."""

    def __init__(
        self,
        registry_source: RegistrySource,
        submit: Callable[[Batch], None],
        *,
        prefix: str,
        max_readings: int = 5000,
        max_age_ms: int = 200,
        refresh_ms: int = 2000,
        unknown_check_ms: int = 250,
        account_every_ms: int = 10_000,
        seq_grace_ms: int = 10 * 60 * 1000,
        keep_readings: bool = False,
        seq_accounting: bool = True,
        policy: RulePolicy | None = None,
        owned_sensors: bool = False,
    ) -> None:
        self._source = registry_source
        self._source_outage = Outage(
            log, "ingest: the registry's store", "the registry in memory is kept meanwhile"
        )
        self._submit = submit
        self._prefix = prefix
        self._max_readings = max_readings
        self._max_age_ms = max_age_ms
        self._refresh_ms = refresh_ms
        self._unknown_check_ms = unknown_check_ms
        self._unknown_checked_ms = -unknown_check_ms
        self._account_every_ms = account_every_ms
        self._keep_readings = keep_readings
        # A worker owning a share hands a duplicate on again: it may be a reading its last
        # owner stored and died before handing on (publishing it by site, where the
        # stream drops a repeat by its Nats-Msg-Id: cluster/codec.py).
        self._hand_on_duplicates = keep_readings and owned_sensors
        self._builder = LineBuilder(policy)
        # With a shared subscription a sensor's messages are spread over the workers, so
        # no worker sees its whole seq: accounting is then off (docs/devices.md, "Several workers").
        # With `owned_sensors` (a worker owning a share, CONTRACT §12) only the sensors gained
        # (`own`) are remembered and accounted; any other is checked in InfluxDB.
        self._seq = SeqTracker(seq_grace_ms, owned_only=owned_sensors) if seq_accounting else None
        self._changes = registry_source.changes_here
        self.registry: Registry = registry_source.load_registry()
        self._builder.use(self.registry)
        self._checked_ms = self._accounted_ms = _now_ms()
        self._account_ts_ms = 0  # the last accounting point's time
        self._batch: Batch | None = None
        self.epoch = 0
        self.stats = PipelineStats()
        # The identity of readings (sensor, ts); blind (everything checked) until seeded.
        self._identity = RecentReadings()
        self._seed: queue.SimpleQueue[Mapping[str, int]] = queue.SimpleQueue()
        self._found_duplicates: queue.SimpleQueue[Counter[str]] = queue.SimpleQueue()
        self._duplicates: Counter[str] = Counter()
        self._handover: queue.SimpleQueue[Owned | frozenset[str]] = queue.SimpleQueue()
        self._lost_left: Counter[str] = Counter()  # confirmed lost of sensors given up

    def accept(self, topic: str, payload: bytes, mid: int, received_ms: int) -> None:
        """Judge one message and add it to the current batch; `mid` 0 means QoS 0."""
        if not self._handover.empty():
            self._hand_over()
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(self.epoch, received_ms)
        if mid:
            batch.mids.append(mid)
        batch.messages += 1
        if self._source.changes_here != self._changes:  # registered through this process
            self._refresh()
        batch.origins.append((len(batch.lines), topic, payload, received_ms))
        batch.held_bytes += len(payload)
        parsed = parse_message(topic, payload, received_ms, self.registry, self._prefix)
        if (
            parsed.rejections
            and parsed.rejections[0].reason is ReasonCode.UNKNOWN_SENSOR
            and self._may_check_unknown(received_ms)
            and self._refresh()
        ):  # registered a moment ago by another process (`linli api`): judged again
            parsed = parse_message(topic, payload, received_ms, self.registry, self._prefix)
        tags_of = self.registry.tags
        seq = self._seq
        judge = self._identity.judge
        for at, reading in enumerate(parsed.readings):
            # a reading's identity (rules/identity.py): fresh ones are written; the rest
            # counted, rejected or left for the writer to check
            verdict = judge(reading)
            if verdict is FRESH:
                if seq is not None:
                    seq.observe(reading.sensor, reading.seq, reading.ts_ms, received_ms)
                batch.lines.append(self._builder.reading(reading, tags_of[reading.sensor]))
                if self._keep_readings:
                    batch.readings.append(reading)
            else:
                index = None if parsed.indexes is None else parsed.indexes[at]
                self._not_fresh(batch, reading, index, verdict, topic, payload, received_ms)
        if parsed.rejections:
            batch.rejections.extend(parsed.rejections)
        if parsed.status is not None:
            text = self._builder.status(parsed.status, tags_of[parsed.status.sensor])
            if text:
                batch.lines.append(text)
            if self._keep_readings:  # the last will: the engine opens device_offline at once
                batch.readings.append(parsed.status)
        if parsed.health is not None:
            text = self._builder.health(parsed.health, tags_of[parsed.health.sensor])
            if text:
                batch.lines.append(text)
        stats = self.stats
        stats.messages += 1
        stats.readings += len(parsed.readings)
        stats.rejections += len(parsed.rejections)
        if (
            len(batch.lines) + len(batch.unchecked) >= self._max_readings
            or batch.held_bytes >= MAX_HELD_BYTES
        ):
            self.flush()

    def accept_frame(
        self,
        decoded: Decoded,
        payload: bytes,
        received_ms: int,
        done: Callable[[], None] | None,
    ) -> None:
        """Add one judged HJ 212 frame to the current batch (ingest/hj212.py); `done` is
        called once the batch is durable.

        Its readings go the MQTT path's way from here — identity, line protocol, the
        writer — but not through seq accounting: HJ 212 has no counter, their seq is the
        period's end (rules/hj212.py), and a device's 2011 and 2051 data interleave.
        """
        if not self._handover.empty():
            self._hand_over()
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(self.epoch, received_ms)
        batch.messages += 1
        if self._source.changes_here != self._changes:
            self._refresh()
        topic = decoded.rejections[0].topic if decoded.rejections else f"hj212/{decoded.mn}"
        batch.origins.append((len(batch.lines), topic, payload, received_ms))
        batch.held_bytes += len(payload)
        readings, rejections = decoded.readings, decoded.rejections
        tags_of = self.registry.tags
        if any(r.sensor not in tags_of for r in readings) and self._refresh():
            tags_of = self.registry.tags
        missing = [r for r in readings if r.sensor not in tags_of]
        if missing:  # a monitor of a sensor not (yet) in this snapshot: refused, unanswered
            assert decoded.mn is not None
            rejections = [*rejections, unregistered(missing[0], decoded.mn, payload, received_ms)]
            readings, done = [], None
        judge = self._identity.judge
        for reading in readings:
            verdict = judge(reading)
            if verdict is FRESH:
                batch.lines.append(self._builder.reading(reading, tags_of[reading.sensor]))
                if self._keep_readings:
                    batch.readings.append(reading)
            else:
                self._not_fresh(
                    batch, reading, None, verdict, topic, payload, received_ms, counted=False
                )
        if rejections:
            batch.rejections.extend(rejections)
        if done is not None:
            batch.after.append(done)
        stats = self.stats
        stats.messages += 1
        stats.readings += len(readings)
        stats.rejections += len(rejections)
        if (
            len(batch.lines) + len(batch.unchecked) >= self._max_readings
            or batch.held_bytes >= MAX_HELD_BYTES
        ):
            self.flush()

    def _not_fresh(
        self,
        batch: Batch,
        reading: Reading,
        index: int | None,
        verdict: Identity,
        topic: str,
        payload: bytes,
        received_ms: int,
        *,
        counted: bool = True,
    ) -> None:
        """A reading seen before (duplicate, conflict) or to check against InfluxDB;
        `index` is its place in its message's batch."""
        if verdict is DUPLICATE:
            batch.duplicates += 1  # stored once (CONTRACT §2): not written again
            self._duplicates[reading.sensor] += 1
            if self._hand_on_duplicates:
                batch.readings.append(reading)
        elif verdict is CONFLICT:
            stored = self._identity.stored(reading.sensor, reading.ts_ms)
            assert stored is not None
            batch.rejections.append(conflict(reading, stored, topic, payload, received_ms, index))
        else:
            if counted and self._seq is not None:  # a backfill or a redelivery: its seq counts
                self._seq.observe(reading.sensor, reading.seq, reading.ts_ms, received_ms)
            line = self._builder.reading(reading, self.registry.tags[reading.sensor])
            batch.unchecked.append(Unchecked(reading, line, topic, payload, received_ms, index))
            if self._keep_readings:  # handed on only if the check finds it fresh (writer.py)
                batch.readings.append(reading)

    def own(self, owned: Owned) -> None:
        """Any thread: sensors gained and what InfluxDB stores of them
        (`identity.owned_stored`), taken up before the next message: their identity is
        then decided in memory, their seq accounted from the newest stored."""
        self._handover.put(owned)

    def disown(self, sensors: Iterable[str]) -> None:
        """Any thread: sensors lost to another owner, forgotten before the next message."""
        self._handover.put(frozenset(sensors))

    def _hand_over(self) -> None:
        while not self._handover.empty():
            change = self._handover.get()
            if isinstance(change, Owned):
                for sensor in change.sensors:
                    stored = change.newest.get(sensor, [])
                    self._identity.own(sensor, stored, change.complete(sensor))
                    if self._seq is not None:
                        last = None
                        if stored:
                            ts, held = stored[-1]
                            seq = held.seq if isinstance(held, Reading) else held[0]
                            last = (seq, ts)
                        self._seq.own(sensor, last)
            else:
                for sensor in change:
                    self._identity.disown(sensor)
                    if self._seq is not None:
                        self._lost_left[sensor] += self._seq.disown(sensor)

    def seed_identity(self, newest_stored: Mapping[str, int]) -> None:
        """Any thread: each sensor's newest stored ts, taken up at the next tick."""
        self._seed.put(newest_stored)

    def count_duplicates(self, found: Counter[str]) -> None:
        """Any thread: duplicates the writer's check found, counted at the next accounting."""
        self._found_duplicates.put(found)

    @property
    def identity_seeded(self) -> bool:
        """Whether the newest stored ts are known (before, every reading is checked)."""
        return self._identity.seeded

    def rejected_lines(self, rejections: Sequence[Rejection]) -> list[str]:
        """Any thread: `rejected` count lines for rejections decided after the batch."""
        return self._builder.rejected(rejections, self.registry.tags)

    def tick(self, now_ms: int) -> None:
        """Flush an old batch, confirm seq gaps, and pick up registry changes."""
        while not self._seed.empty():
            self._identity.seed(self._seed.get())
        if not self._handover.empty():
            self._hand_over()
        self._take_found_duplicates()
        if now_ms - self._accounted_ms >= self._account_every_ms:
            self._accounted_ms = now_ms
            self._account(now_ms)
        batch = self._batch
        if batch is not None and now_ms - batch.started_ms >= self._max_age_ms:
            self.flush()
        if now_ms - self._checked_ms >= self._refresh_ms:
            self._checked_ms = now_ms
            self._refresh()

    def finish(self, now_ms: int) -> None:
        """At stop: account the seq gaps and duplicates counted since the last accounting
        (a stop between two accountings would lose them) and hand the last batch over."""
        self._take_found_duplicates()
        self._accounted_ms = now_ms
        self._account(now_ms)
        self.flush()

    def _take_found_duplicates(self) -> None:
        while not self._found_duplicates.empty():
            found = self._found_duplicates.get()
            self.stats.duplicates += found.total()
            self._duplicates.update(found)

    def flush(self) -> None:
        """Hand the current batch to the writer."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if batch.rejections:
            batch.origins.append((len(batch.lines), "", b"", 0))
            batch.lines.extend(self._builder.rejected(batch.rejections, self.registry.tags))
        self.stats.duplicates += batch.duplicates
        self.stats.batches += 1
        self._submit(batch)

    def empty(self) -> bool:
        """No batch is being collected."""
        return self._batch is None

    def new_epoch(self, epoch: int) -> None:
        """A new MQTT connection: message ids of the old one must never be acknowledged."""
        self.flush()
        self.epoch = epoch

    def _account(self, now_ms: int) -> None:
        if self._seq is None:  # several workers: no accounting (docs/devices.md, "Several workers")
            self._duplicates.clear()
            return
        # seq gaps from the SeqTracker; duplicates from the readings' identity (in memory
        # and found by the writer's check), the one place they are decided
        harvest = {s: (lost, 0) for s, (lost, _) in self._seq.harvest(now_ms).items() if lost}
        for sensor, lost in self._lost_left.items():  # of sensors given up since
            if lost:
                harvest[sensor] = (harvest.get(sensor, (0, 0))[0] + lost, 0)
        self._lost_left.clear()
        for sensor, n in self._duplicates.items():
            lost, _ = harvest.get(sensor, (0, 0))
            harvest[sensor] = (lost, n)
        self._duplicates.clear()
        if not harvest:
            return
        # a point a millisecond after the last one at the least: two accountings in one
        # millisecond (ticks come that fast while messages wait, and a stop's last one can
        # follow a tick's) would be one InfluxDB point, the second's counts over the first's
        at_ms = self._account_ts_ms = max(now_ms, self._account_ts_ms + 1)
        if self._batch is None:
            self._batch = Batch(self.epoch, now_ms)
        batch = self._batch
        batch.origins.append((len(batch.lines), "", b"", 0))
        for sensor, (lost, duplicates) in harvest.items():
            tags = self.registry.tags.get(sensor)
            if tags is not None:
                batch.lines.append(self._builder.accounting(tags, lost, duplicates, at_ms))

    def _may_check_unknown(self, now_ms: int) -> bool:
        """At most one registry check per `unknown_check_ms` for unknown sensors, however
        many of their messages arrive (a flood of invented ids costs a few queries a
        second); the first unknown message after a quiet spell is always checked."""
        if now_ms - self._unknown_checked_ms < self._unknown_check_ms:
            return False
        self._unknown_checked_ms = now_ms
        return True

    def _refresh(self) -> bool:
        """Reload the registry if it changed; True when it did."""
        try:
            self._changes = self._source.changes_here  # before reading: nothing missed
            version = self._source.registry_version()
            reload = version != self.registry.version
            if reload:
                registry = self._source.load_registry()
        except Exception as err:  # the store is unavailable: keep the snapshot we have
            self._source_outage.failed(err, f"refreshing version {self.registry.version}")
            return False
        self._source_outage.ok()
        if not reload:
            return False
        self.registry = registry
        self._builder.use(self.registry)
        log.info("registry reloaded: %r", self.registry)
        return True


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
