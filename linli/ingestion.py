"""Wiring of the data path: MQTT source → pipeline → writer (InfluxDB or spool) → ack."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from linli.influx.client import InfluxClient, InfluxError
from linli.ingest import identity
from linli.ingest.hj212 import Hj212Listener
from linli.ingest.lineprotocol import parse_stored
from linli.ingest.mqtt import MqttSource
from linli.ingest.pipeline import Pipeline
from linli.ingest.spool import Spool
from linli.ingest.writer import Writer
from linli.rules.hj212 import Decoded
from linli.rules.hj212_profile import Hj212Registry
from linli.rules.localtime import Calendar
from linli.rules.policy import RulePolicy
from linli.rules.ports import RegistrySource, RejectSink
from linli.rules.reading import DeviceStatus, Reading
from linli.settings import Settings

log = logging.getLogger(__name__)


class Ingest:
    """One ingest worker: a persistent MQTT session feeding InfluxDB, acknowledging when durable.

    `policy` is the community's (`linli.wiring.load_policy`), the one its rule engine
    judges by: it decides the limit in force written with each noise reading. Without
    one, the defaults (GB 3096's 06:00/22:00 in LINLI_TZ, GB 22337 for shops).

    With `hj212` (the registry's monitors) and LINLI_HJ212_ADDR set, HJ 212 monitors are
    taken on that address beside MQTT (ingest/hj212.py), into the same pipeline and
    writer: the pipeline is then shared by two threads, under one lock.
    """

    def __init__(
        self,
        settings: Settings,
        store: RegistrySource,
        rejects: RejectSink,
        influx: InfluxClient,
        *,
        policy: RulePolicy | None = None,
        client_id: str | None = None,
        on_stored: Callable[[Sequence[Reading | DeviceStatus]], None] | None = None,
        retry_s: float = 1.0,
        seq_grace_ms: int = 10 * 60 * 1000,
        account_every_ms: int = 10_000,
        hj212: Hj212Registry | None = None,
    ) -> None:
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        self.writer = Writer(
            influx, rejects, self.spool, self._ack, retry_s=retry_s, on_stored=on_stored
        )
        self.pipeline = Pipeline(
            store,
            self.writer.submit,
            prefix=settings.topic_prefix,
            max_readings=settings.batch_max_readings,
            max_age_ms=settings.batch_max_age_ms,
            refresh_ms=int(settings.registry_refresh_s * 1000),
            seq_grace_ms=seq_grace_ms,
            account_every_ms=account_every_ms,
            keep_readings=on_stored is not None,
            seq_accounting=settings.mqtt_share_group is None,
            policy=policy or RulePolicy(calendar=Calendar(settings.tz)),
        )
        self.writer.accounting = self.pipeline
        self._influx = influx
        self._retry_s = retry_s
        # With a shared subscription a sensor's readings are split between workers, so no
        # worker's memory knows what the others stored: every reading is checked in
        # InfluxDB (the pipeline is never seeded; docs/devices.md, "Several workers").
        self._seeded = settings.mqtt_share_group is None
        topic = f"{settings.topic_prefix}/#"
        if settings.mqtt_share_group:
            topic = f"$share/{settings.mqtt_share_group}/{topic}"
        self._lock = threading.Lock()
        self.hj212: Hj212Listener | None = None
        where = settings.hj212_host_port()
        if hj212 is not None and where is not None:
            self.hj212 = Hj212Listener(
                *where,
                hj212,
                self,
                tz=ZoneInfo(settings.tz),
                idle_s=settings.hj212_idle_s,
            )
        shared = self.hj212 is not None
        self.source = MqttSource(
            settings.mqtt_parts(),
            client_id or settings.mqtt_client_id,
            [topic],
            self._accept if shared else self.pipeline.accept,
            on_new_session=self._new_epoch if shared else self.pipeline.new_epoch,
        )
        self._tick = self.tick if shared else self.pipeline.tick
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._thread: threading.Thread | None = None

    def _can_read(self) -> bool:
        return self.writer.ready() and not self._draining.is_set()

    def _ack(self, epoch: int, mids: Sequence[int]) -> None:
        self.source.ack(epoch, mids)

    # --- the pipeline shared with the HJ 212 listener (under the lock) -------------------

    def _accept(self, topic: str, payload: bytes, mid: int, received_ms: int) -> None:
        with self._lock:
            self.pipeline.accept(topic, payload, mid, received_ms)

    def _new_epoch(self, epoch: int) -> None:
        with self._lock:
            self.pipeline.new_epoch(epoch)

    def tick(self, now_ms: int) -> None:
        """Either thread: flush an old batch, account, pick up registry changes."""
        with self._lock:
            self.pipeline.tick(now_ms)

    def accept_frame(
        self,
        decoded: Decoded,
        payload: bytes,
        received_ms: int,
        done: Callable[[], None] | None,
    ) -> None:
        """The HJ 212 listener's thread: one judged frame into the pipeline."""
        with self._lock:
            self.pipeline.accept_frame(decoded, payload, received_ms, done)

    def ready(self) -> bool:
        """Whether the writer takes more (the HJ 212 listener reads only then)."""
        return self.writer.ready() and not self._draining.is_set()

    def run(self) -> None:
        """Run in this thread until `stop()`."""
        if self._seeded:
            spooled = _newest_spooled(self.spool)  # before the replayer empties the spool
            threading.Thread(
                target=self._seed, args=(spooled,), name="linli-seed", daemon=True
            ).start()
        self.writer.start()
        try:
            self.source.run(self._stop, can_read=self._can_read, tick=self._tick)
        finally:
            with self._lock:
                self.pipeline.finish(time.time_ns() // 1_000_000)
            self.writer.stop()

    def _seed(self, spooled: dict[str, int]) -> None:
        """Each sensor's newest stored reading, for the pipeline's identity memory; until it
        is known every reading is checked in InfluxDB by the writer (rules/identity.py)."""
        while not self._stop.is_set():
            try:
                stored = identity.newest_stored(self._influx, time.time_ns() // 1_000_000)
                break
            except InfluxError as err:
                log.warning("could not read the newest stored readings (%s); retrying", err)
                self._stop.wait(self._retry_s)
        else:
            return
        for sensor, ts in spooled.items():
            stored[sensor] = max(ts, stored.get(sensor, -1))
        log.info("newest stored readings known for %d sensors", len(stored))
        self.pipeline.seed_identity(stored)

    def start(self, wait_subscribed_s: float = 0.0) -> Ingest:
        """Run in a background thread; optionally wait until the subscription is in place."""
        if self.hj212 is not None:
            self.hj212.start()
        self._thread = threading.Thread(target=self.run, name="linli-ingest", daemon=True)
        self._thread.start()
        if wait_subscribed_s and not self.source.subscribed.wait(wait_subscribed_s):
            raise TimeoutError(f"not subscribed to the broker within {wait_subscribed_s}s")
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop reading, finish what was read, acknowledge it, disconnect.

        What is not durable by the timeout stays unacknowledged: the broker redelivers it.
        """
        self._draining.set()
        if self.hj212 is not None:  # what is read is stored; what is unanswered, sent again
            self.hj212.stop()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.writer.drained(self.pipeline.empty()):
            time.sleep(0.05)
        time.sleep(0.1)  # one more loop turn sends the last acknowledgements
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)


def _newest_spooled(spool: Spool) -> dict[str, int]:
    """Each sensor's newest reading in the spool: stored soon, not yet in InfluxDB."""
    newest: dict[str, int] = {}
    for path, body in spool.files():
        if path.suffix == ".check":
            readings = [u.reading for u in identity.decode(body)]
        else:
            readings = [r for r in parse_stored(body) if isinstance(r, Reading)]
        for r in readings:
            newest[r.sensor] = max(r.ts_ms, newest.get(r.sensor, -1))
    return newest
