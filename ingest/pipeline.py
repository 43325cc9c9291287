"""From messages to batches: parse, account seq, build line protocol (runs on the MQTT thread).

The MQTT loop hands every message to `Pipeline.accept`; the pipeline collects the
message ids, the line protocol and the rejections of up to `max_readings` readings or
`max_age_ms` into a `Batch`, and gives the batch to the writer. Nothing here is
acknowledged: the writer does that once the batch is durable (ingest/writer.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from linli.ingest.lineprotocol import LineBuilder
from linli.rules.parse import parse_message
from linli.rules.policy import RulePolicy
from linli.rules.ports import RegistrySource
from linli.rules.reading import DeviceStatus, Reading
from linli.rules.registry import Registry
from linli.rules.rejection import ReasonCode, Rejection
from linli.rules.sequence import SeqTracker, Verdict

log = logging.getLogger(__name__)


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

    def body(self) -> bytes:
        """The batch's line protocol, ready for `/write`."""
        return ("\n".join(self.lines) + "\n").encode() if self.lines else b""


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
    ) -> None:
        self._source = registry_source
        self._submit = submit
        self._prefix = prefix
        self._max_readings = max_readings
        self._max_age_ms = max_age_ms
        self._refresh_ms = refresh_ms
        self._unknown_check_ms = unknown_check_ms
        self._unknown_checked_ms = -unknown_check_ms
        self._account_every_ms = account_every_ms
        self._keep_readings = keep_readings
        self._builder = LineBuilder(policy)
        # With a shared subscription a sensor's messages are spread over the workers, so
        # no worker sees its whole seq: accounting is then off (README, "Several workers").
        self._seq = SeqTracker(seq_grace_ms) if seq_accounting else None
        self._changes = registry_source.changes_here
        self.registry: Registry = registry_source.load_registry()
        self._builder.use(self.registry)
        self._checked_ms = self._accounted_ms = _now_ms()
        self._batch: Batch | None = None
        self.epoch = 0
        self.stats = PipelineStats()

    def accept(self, topic: str, payload: bytes, mid: int, received_ms: int) -> None:
        """Judge one message and add it to the current batch; `mid` 0 means QoS 0."""
        batch = self._batch
        if batch is None:
            batch = self._batch = Batch(self.epoch, received_ms)
        if mid:
            batch.mids.append(mid)
        batch.messages += 1
        if self._source.changes_here != self._changes:  # registered through this process
            self._refresh()
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
        for reading in parsed.readings:
            if seq is not None and (
                seq.observe(reading.sensor, reading.seq, reading.ts_ms, received_ms)
                == Verdict.DUPLICATE
            ):
                batch.duplicates += 1  # written again all the same: InfluxDB keeps it once
            batch.lines.append(self._builder.reading(reading, tags_of[reading.sensor]))
        if self._keep_readings:
            batch.readings.extend(parsed.readings)
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
        if len(batch.lines) >= self._max_readings:
            self.flush()

    def tick(self, now_ms: int) -> None:
        """Flush an old batch, confirm seq gaps, and pick up registry changes."""
        if now_ms - self._accounted_ms >= self._account_every_ms:
            self._accounted_ms = now_ms
            self._account(now_ms)
        batch = self._batch
        if batch is not None and now_ms - batch.started_ms >= self._max_age_ms:
            self.flush()
        if now_ms - self._checked_ms >= self._refresh_ms:
            self._checked_ms = now_ms
            self._refresh()

    def flush(self) -> None:
        """Hand the current batch to the writer."""
        batch, self._batch = self._batch, None
        if batch is None:
            return
        if batch.rejections:
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
        harvest = self._seq.harvest(now_ms) if self._seq is not None else None
        if not harvest:
            return
        if self._batch is None:
            self._batch = Batch(self.epoch, now_ms)
        for sensor, (lost, duplicates) in harvest.items():
            tags = self.registry.tags.get(sensor)
            if tags is not None:
                self._batch.lines.append(self._builder.accounting(tags, lost, duplicates, now_ms))

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
            if version != self.registry.version:
                self.registry = self._source.load_registry()
                self._builder.use(self.registry)
                log.info("registry reloaded: %r", self.registry)
                return True
        except Exception:  # the store is briefly unavailable: keep the snapshot we have
            log.exception(
                "could not refresh the registry; keeping version %s", self.registry.version
            )
        return False


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
