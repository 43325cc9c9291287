"""Making batches durable, then acknowledging them (CONTRACT §3, STYLE §4).

A batch is durable once its rejections are in the store and its line protocol is in
InfluxDB or in the local spool. Only then are its message ids handed back to the
MQTT loop for PUBACK, in arrival order. While the spool holds anything, new batches
join it behind the old ones and the replayer sends them in order when InfluxDB is
back. When the spool is full the writer waits for InfluxDB without acknowledging;
its queue fills, the MQTT loop stops reading, and the broker holds the rest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from linli.ingest.influx import InfluxClient, InfluxRejected, InfluxUnavailable
from linli.ingest.lineprotocol import parse_stored
from linli.ingest.pipeline import Batch
from linli.ingest.spool import Spool, SpoolFull
from linli.rules.ports import RejectSink
from linli.rules.reading import DeviceStatus, Reading

log = logging.getLogger(__name__)

Ack = Callable[[int, Sequence[int]], None]


@dataclass(slots=True)
class WriterStats:
    """Counters since start."""

    written_batches: int = 0
    spooled_batches: int = 0
    replayed_batches: int = 0
    failed_batches: int = 0
    acked_messages: int = 0
    lines: int = 0


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
    ) -> None:
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
                self._make_durable(batch)
                self.stats.acked_messages += len(batch.mids)
                self._ack(batch.epoch, batch.mids)
                if self._on_stored is not None and batch.readings:
                    self._on_stored(batch.readings)
            finally:
                self._queue.task_done()

    def _make_durable(self, batch: Batch) -> None:
        while batch.rejections:
            try:
                self._rejects.add_rejections(batch.rejections)
                break
            except Exception:  # the case store is down: keep the batch, do not acknowledge
                log.exception(
                    "could not store %d rejected records; retrying", len(batch.rejections)
                )
                time.sleep(self._retry_s)
        body = batch.body()
        if not body:
            return
        self.stats.lines += len(batch.lines)
        while True:
            if self._spool.size_bytes == 0:
                try:
                    self._influx.write(body)
                    self.stats.written_batches += 1
                    log.debug("wrote %d lines of epoch %d", len(batch.lines), batch.epoch)
                    return
                except InfluxUnavailable as err:
                    log.warning("InfluxDB unavailable, spooling: %s", err)
                except InfluxRejected as err:
                    self._set_aside(body, err)
                    return
            try:
                self._spool.append(body)
                self.stats.spooled_batches += 1
                log.debug("spooled %d lines of epoch %d", len(batch.lines), batch.epoch)
                with self._spool_changed:
                    self._spool_changed.notify_all()
                return
            except SpoolFull as err:
                # Stop acknowledging: the broker holds what follows (CONTRACT §3).
                log.error("%s; waiting for InfluxDB before taking more", err)
                time.sleep(self._retry_s)

    def _set_aside(self, body: bytes, err: InfluxRejected) -> None:
        """InfluxDB refused the data: keep it on disk for a person, never retry forever."""
        path = self._spool.set_aside(self._spool.append(body))
        self.stats.failed_batches += 1
        log.error("InfluxDB refused a batch (%s); kept in %s", err, path)

    def _replay(self) -> None:
        while not self._stop.is_set():
            oldest = self._spool.oldest()
            if oldest is None:
                with self._spool_changed:
                    self._spool_changed.wait(self._retry_s)
                continue
            path, body = oldest
            try:
                self._influx.write(body)
            except InfluxUnavailable:
                self._stop.wait(self._retry_s)
                continue
            except InfluxRejected as err:
                target = self._spool.set_aside(path)
                self.stats.failed_batches += 1
                log.error("InfluxDB refused spooled batch (%s); kept in %s", err, target)
                continue
            self._spool.remove(path)
            self.stats.replayed_batches += 1
            log.info("replayed %s; %d bytes still spooled", path.name, self._spool.size_bytes)
