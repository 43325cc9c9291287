"""Making batches durable, then acknowledging them (CONTRACT §3, STYLE §4).

A batch is durable once its rejections are in the store and its line protocol is in
InfluxDB or in the local spool. Only then are its message ids handed back to the
MQTT loop for PUBACK, in arrival order. While the spool holds anything, new batches
join it behind the old ones and the replayer sends them in order when InfluxDB is
back. When the spool is full the writer waits for InfluxDB without acknowledging;
its queue fills, the MQTT loop stops reading, and the broker holds the rest.

Before writing, readings the MQTT thread could not judge in memory are checked against
what InfluxDB stores for their (sensor, ts) (ingest/identity.py); duplicates and
conflicts are not written. Points InfluxDB refuses are isolated and kept as rejected
records (ingest/refusal.py): the rest of their batch is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from linli.influx.client import InfluxClient, InfluxUnavailable
from linli.ingest import identity
from linli.ingest.lineprotocol import parse_stored
from linli.ingest.pipeline import Batch
from linli.ingest.refusal import Origin, isolate, not_storable
from linli.ingest.spool import Spool, SpoolFull
from linli.rules.ports import RejectSink
from linli.rules.reading import DeviceStatus, Reading
from linli.rules.rejection import Rejection

log = logging.getLogger(__name__)

Ack = Callable[[int, Sequence[int]], None]


class Accounting(Protocol):
    """Where the writer's own findings are counted (the pipeline, ingest/pipeline.py)."""

    def rejected_lines(self, rejections: Sequence[Rejection]) -> list[str]:
        """`rejected` count lines for these rejections."""
        ...

    def count_duplicates(self, found: Counter[str]) -> None:
        """Duplicates found by checking, per sensor."""
        ...


def _no_origin(_: int) -> Origin | None:
    return None


@dataclass(slots=True)
class Held:
    """A batch's readings not to hand on: unchecked ones not written (by id), and the
    (sensor, ts) of points InfluxDB refused."""

    ids: set[int]
    refused: set[tuple[str, int]]

    def __bool__(self) -> bool:
        return bool(self.ids or self.refused)

    def keeps(self, r: Reading | DeviceStatus) -> bool:
        """Whether `r` was stored and may be handed on."""
        return id(r) not in self.ids and (r.sensor, r.ts_ms) not in self.refused


_NOTHING_HELD = Held(set(), set())


@dataclass(slots=True)
class WriterStats:
    """Counters since start."""

    written_batches: int = 0
    spooled_batches: int = 0
    replayed_batches: int = 0
    failed_batches: int = 0
    acked_messages: int = 0
    lines: int = 0
    refused_points: int = 0
    checked_readings: int = 0
    conflicts: int = 0


class Writer:
    """One thread making batches durable in order, and a replayer draining the spool."""

    def __init__(
        self,
        influx: InfluxClient,
        rejects: RejectSink,
        spool: Spool,
        ack: Ack,
        *,
        queue_batches: int = 4,
        retry_s: float = 1.0,
        on_stored: Callable[[Sequence[Reading | DeviceStatus]], None] | None = None,
        accounting: Accounting | None = None,
        hand_on_first: bool = False,
    ) -> None:
        self.accounting = accounting
        # In a cluster (CONTRACT §12) handing on is publishing to the stored stream, and the
        # acknowledgement moves the partition's checkpoint past the batch: hand on first,
        # or a worker dying between the two would leave stored readings never judged. For
        # the same reason a duplicate the check finds is handed on again (the worker before
        # may have died between storing and handing on; the stream drops a repeat).
        self._hand_on_first = hand_on_first
        self._influx = influx
        self._rejects = rejects
        self._spool = spool
        self._ack = ack
        self._retry_s = retry_s
        self._on_stored = on_stored
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queue_batches)
        self._stop = threading.Event()
        self._spool_changed = threading.Condition()
        self.stats = WriterStats()
        self._threads = [
            threading.Thread(target=self._run, name="linli-writer", daemon=True),
            threading.Thread(target=self._replay, name="linli-replayer", daemon=True),
        ]

    def start(self) -> Writer:
        """Hand what the spool holds to `on_stored` again, then start the threads.

        Spooled batches were acknowledged and handed on once durable; a crash loses what
        the rule engine had not judged of them, and InfluxDB, where the engine's replay
        at start looks, gets them only from the replayer. So they are handed on again
        (read back from line protocol); what was judged before changes nothing.
        """
        if self._on_stored is not None:
            for body in self._spool.batches():
                if stored := parse_stored(body):
                    self._on_stored(stored)
        for t in self._threads:
            t.start()
        return self

    def ready(self) -> bool:
        """True while the queue has room; the MQTT loop reads only then."""
        return not self._queue.full()

    def submit(self, batch: Batch) -> None:
        """Queue a batch (blocks only if called when not `ready`)."""
        self._queue.put(batch)

    def drained(self, upstream_empty: bool = True) -> bool:
        """Every submitted batch is durable and handed back for acknowledgement."""
        return upstream_empty and self._queue.unfinished_tasks == 0

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish queued batches (best effort within the timeout) and stop the threads."""
        self._queue.put(None)
        self._threads[0].join(timeout_s)
        self._stop.set()
        with self._spool_changed:
            self._spool_changed.notify_all()
        self._threads[1].join(timeout_s)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                held = self._make_durable(batch)
                if self._hand_on_first:
                    self._hand_on(batch, held)
                self.stats.acked_messages += len(batch.mids)
                self._ack(batch.epoch, batch.mids)
                for done in batch.after:  # HJ 212 answers (ingest/hj212.py)
                    done()
                if not self._hand_on_first:
                    self._hand_on(batch, held)
            finally:
                self._queue.task_done()

    def _hand_on(self, batch: Batch, held: Held) -> None:
        if self._on_stored is not None and batch.readings:
            readings = batch.readings
            if held:  # not stored, or still to be checked: not judged now
                readings = [r for r in readings if held.keeps(r)]
            if readings:
                self._on_stored(readings)

    def _make_durable(self, batch: Batch) -> Held:
        """Rejections stored, lines written or spooled; returns what of the batch's readings
        is not to be handed on (not written, or still to be checked from the spool)."""
        self._store_rejections(batch.rejections)
        if not batch.lines and not batch.unchecked:
            return _NOTHING_HELD
        self.stats.lines += len(batch.lines)
        while True:
            if self._spool.size_bytes == 0:
                try:
                    held = self._write(batch.lines, batch.unchecked, batch.origin, "batch")
                    self.stats.written_batches += 1
                    log.debug("wrote %d lines of epoch %d", len(batch.lines), batch.epoch)
                    return held
                except InfluxUnavailable as err:
                    log.warning("InfluxDB unavailable, spooling: %s", err)
            try:
                check = identity.encode(batch.unchecked) if batch.unchecked else b""
                self._spool.append_batch(batch.body(), check)
                self.stats.spooled_batches += 1
                log.debug("spooled %d lines of epoch %d", len(batch.lines), batch.epoch)
                with self._spool_changed:
                    self._spool_changed.notify_all()
                return Held({id(u.reading) for u in batch.unchecked}, set())
            except SpoolFull as err:
                # Stop acknowledging: the broker holds what follows (CONTRACT §3).
                log.error("%s; waiting for InfluxDB before taking more", err)
                time.sleep(self._retry_s)

    def _write(
        self,
        lines: Sequence[str],
        unchecked: Sequence[identity.Unchecked],
        origin_of: Callable[[int], Origin | None],
        where: str,
    ) -> Held:
        """Check, write (isolating refused points), record what was not stored.

        Raises InfluxUnavailable before anything is recorded: the caller spools it all.
        Returns what of the batch was not written.
        """
        fresh: list[identity.Unchecked] = []
        conflicts: list[Rejection] = []
        duplicates: Counter[str] = Counter()
        repeated: list[identity.Unchecked] = []
        if unchecked:
            decided = identity.decide(self._influx, unchecked)
            fresh, conflicts, duplicates = decided.fresh, decided.conflicts, decided.duplicates
            repeated = decided.repeated if self._hand_on_first else []
            self.stats.checked_readings += len(unchecked)
        every = [*lines, *(u.line for u in fresh)] if fresh else lines
        refused = isolate(self._influx.write, every) if every else []
        now_ms = time.time_ns() // 1_000_000
        rejections = list(conflicts)
        not_written = {id(u.reading) for u in unchecked} - {id(u.reading) for u in fresh}
        not_written -= {id(u.reading) for u in repeated}  # stored before: handed on again
        refused_at: set[tuple[str, int]] = set()
        for i, message in refused:
            if i < len(lines):
                origin = origin_of(i)
            else:
                u = fresh[i - len(lines)]
                origin = (u.topic, u.payload, u.received_ms)
                not_written.add(id(u.reading))
            rejections.append(not_storable(every[i], message, origin, where, now_ms))
            refused_at.update((r.sensor, r.ts_ms) for r in parse_stored(every[i].encode()))
            log.error("InfluxDB refused a point (%s): %s", where, message)
        self.stats.refused_points += len(refused)
        self.stats.conflicts += len(conflicts)
        if rejections:
            self._store_rejections(rejections)
            self._count(rejections)
        if duplicates and self.accounting is not None:
            self.accounting.count_duplicates(duplicates)
        return Held(not_written, refused_at)

    def _store_rejections(self, rejections: Sequence[Rejection]) -> None:
        while rejections:
            try:
                self._rejects.add_rejections(rejections)
                return
            except Exception:  # the case store is down: keep the batch, do not acknowledge
                log.exception("could not store %d rejected records; retrying", len(rejections))
                time.sleep(self._retry_s)

    def _count(self, rejections: Sequence[Rejection]) -> None:
        """The `rejected` counts of rejections decided here; set aside only if refused."""
        if self.accounting is None:
            return
        lines = self.accounting.rejected_lines(rejections)
        try:
            refused = isolate(self._influx.write, lines)
        except InfluxUnavailable:
            try:
                self._spool.append(("\n".join(lines) + "\n").encode())
            except SpoolFull:
                self._set_aside(lines, "the spool is full")
            return
        if refused:
            self._set_aside([lines[i] for i, _ in refused], refused[0][1])

    def _set_aside(self, lines: Sequence[str], why: str) -> None:
        """linli's own count lines that cannot be stored: kept on disk for a person, counted
        on /health and listed by GET /api/v1/spool/failed (never retried forever)."""
        path = self._spool.set_aside(self._spool.append(("\n".join(lines) + "\n").encode()))
        self.stats.failed_batches += 1
        log.error("could not store %d count lines (%s); kept in %s", len(lines), why, path)

    def _replay(self) -> None:
        while not self._stop.is_set():
            oldest = self._spool.oldest()
            if oldest is None:
                with self._spool_changed:
                    self._spool_changed.wait(self._retry_s)
                continue
            path, body = oldest
            where = f"spool/{path.name}"
            try:
                if path.suffix == ".check":
                    unchecked = identity.decode(body)
                    held = self._write([], unchecked, _no_origin, where)
                    fresh = [u.reading for u in unchecked if held.keeps(u.reading)]
                    if self._on_stored is not None and fresh:
                        self._on_stored(fresh)
                else:
                    self._write(body.decode().splitlines(), [], _no_origin, where)
            except InfluxUnavailable:
                self._stop.wait(self._retry_s)
                continue
            self._spool.remove(path)
            self.stats.replayed_batches += 1
            log.info("replayed %s; %d bytes still spooled", path.name, self._spool.size_bytes)
