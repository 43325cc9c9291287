"""linli on a NATS cluster wired (CONTRACT §12): `linli nats setup`, the ingest and engine
workers taking partitions from JetStream, the notifier's lease.

Each worker runs one asyncio loop (nats-py) beside the parts it already had: ingest's
pipeline and writer (the loop is the pipeline's thread, as the MQTT loop is in `linli
ingest`), the engine's `process` and `tick` (called in a worker thread, one at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from linli.cluster import codec
from linli.cluster.layout import MQTT_QOS_HEADER, Layout
from linli.cluster.lease import LeaseThread
from linli.cluster.link import Link
from linli.cluster.membership import Membership, member_id
from linli.cluster.reader import Gap, Message, PartitionReader
from linli.cluster.setup import NotSetUp, SetupError, check, setup
from linli.cluster.status import Status, read_status, status_lines
from linli.influx.client import InfluxClient
from linli.ingest import identity
from linli.ingest.pipeline import Pipeline
from linli.ingest.spool import Spool
from linli.ingest.writer import Writer
from linli.rules.checkpoint import Claim, StaleOwner
from linli.rules.localtime import Calendar
from linli.rules.partitions import partition_of, site_partition
from linli.rules.policy import RulePolicy
from linli.rules.reading import DeviceStatus, Reading
from linli.settings import Settings
from linli.store import Database
from linli.store import partitions as checkpoints
from linli.store.errors import StoreError
from linli.store.outage import Outage
from linli.wiring import ConfigArg, StartupError, load_policy, open_influx, open_store, tune_gc

log = logging.getLogger(__name__)

INGEST, ENGINE = "ingest", "engine"

# Test hooks for the fault test (tests/cluster/test_faults.py), honoured only when set: a
# worker exits at once (no cleanup, as if killed) right after its Nth commit, before its
# acknowledgement — the engine after the transaction, ingest after the InfluxDB write.
CRASH_AFTER_COMMIT = "LINLI_TEST_CRASH_AFTER_COMMIT"
CRASH_AFTER_STORE = "LINLI_TEST_CRASH_AFTER_STORE"
CRASHED = 75  # the exit status of such a crash
SETUP_WAIT_S = 2.0  # between two looks for the streams of `linli nats setup`

STORE_RETRY_S = 1.0  # the case store down: how often ingest tries its checkpoints again


class CrashAfter:
    """Counts commits and ends the process at the Nth when `variable` names N."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        self.left = int(os.environ.get(variable) or 0)

    def count(self) -> None:
        """One more commit; the Nth ends the process (`os._exit`, no cleanup)."""
        if self.left <= 0:
            return
        self.left -= 1
        if self.left == 0:
            sys.stderr.write(f"{self.variable}: exiting after the commit, before the ack\n")
            sys.stderr.flush()
            os._exit(CRASHED)


def layout_of(settings: Settings) -> Layout:
    """The names and sizes of this linli in NATS, from the settings."""
    return Layout(
        settings.nats_name,
        settings.nats_partitions,
        topic_prefix=settings.topic_prefix,
        replicas=settings.nats_replicas,
        max_age_s=settings.nats_max_age_h * 3600,
        member_ttl_s=settings.nats_member_ttl_s,
    )


def servers_of(settings: Settings) -> list[str]:
    """LINLI_NATS_URL's servers."""
    if not settings.nats_url:
        raise StartupError("LINLI_NATS_URL is not set: name the NATS servers")
    return [u.strip() for u in settings.nats_url.split(",") if u.strip()]


def nats_setup(settings: Settings, timeout_s: float = 60.0) -> int:
    """`linli nats setup`: MQTT warmed (its streams exist once a client connected), then
    the streams, mappings, consumers and buckets; prints what it did."""
    from linli.natsservers import warm_mqtt

    mqtt = settings.mqtt_parts()
    warm_mqtt(mqtt.port, time.monotonic() + timeout_s, host=mqtt.host)

    async def run() -> list[str]:
        nc = await nats.connect(servers_of(settings))
        try:
            report = await setup(nc.jetstream(), layout_of(settings), timeout_s)
        finally:
            await nc.close()
        return list(report.lines)

    for line in asyncio.run(run()):
        print(line)
    return 0


def nats_status(settings: Settings) -> int:
    """`linli nats status`: the members, the notifier's lease, the source's backlog and each
    partition against its checkpoint (cluster/status.py); 1 when a partition is stuck."""
    db = open_store(settings, None)
    try:
        marks = checkpoints.checkpoints(db)
    finally:
        db.close()

    async def run() -> Status:
        nc = await nats.connect(servers_of(settings))
        try:
            return await read_status(nc.jetstream(), layout_of(settings), marks)
        finally:
            await nc.close()

    status = asyncio.run(run())
    for line in status_lines(status):
        print(line)
    return 1 if status.stuck() else 0


async def joined(link: Link, layout: Layout, stop: asyncio.Event) -> JetStreamContext | None:
    """Connected to NATS, its streams set up as `layout` says: a worker started before
    NATS or before `linli nats setup` waits for them, each told once in the log; None when
    `stop` came first. Streams set up otherwise (another partition count): StartupError."""
    nc = await link.connect(stop)
    if nc is None:
        return None
    js = nc.jetstream()
    told = ""
    while not stop.is_set():
        try:
            await check(js, layout)
            if told:
                log.info("%s: the streams are set up; starting", link.who)
            return js
        except NotSetUp as err:
            why = str(err)
        except SetupError as err:
            raise StartupError(str(err)) from None
        except (nats.errors.Error, TimeoutError) as err:  # JetStream not ready, NATS lost
            why = f"JetStream did not answer ({err!r})"
        if why != told:
            log.warning("%s: %s; waiting", link.who, why)
            told = why
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SETUP_WAIT_S)
    return None


def _until_signal(worker: EngineWorker | IngestWorker, doing: str) -> int:
    """Run one worker of either role until SIGINT or SIGTERM."""
    tune_gc()
    log.info("%s: %s its share of %d partitions", worker.member, doing, worker.layout.partitions)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    asyncio.run(main())
    return 0


# --- the engine --------------------------------------------------------------------------


class EngineWorker:
    """`linli engine`: judges the stored readings of the site partitions it owns, each
    batch committed with its partition's checkpoint, acknowledged after the commit."""

    def __init__(self, settings: Settings, config: ConfigArg, member: str | None = None) -> None:
        from linli import notifying, wiring
        from linli.rules.engine.engine import OWNS_NOTHING

        self.settings = settings
        self.layout = layout_of(settings)
        self.member = member or member_id(ENGINE)
        self.db = open_store(settings, config)
        self.influx = open_influx(settings)
        policy = load_policy(settings, config)
        plan = notifying.plan_of(config)
        tellers = [notifying.make_teller(self.db, plan, settings, policy.escalation.remind_s)]
        self.engine = wiring.make_engine(
            self.db, self.influx, policy, tellers, settings.engine_tick_s, owns=OWNS_NOTHING
        )
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._membership: Membership | None = None
        self._js: JetStreamContext | None = None
        self._crash = CrashAfter(CRASH_AFTER_COMMIT)
        self.outage = Outage(
            log,
            f"{self.member}: the case store",
            "nothing is committed nor acknowledged, the stored stream keeps the readings; "
            "partitions are taken again from their checkpoints once it answers",
        )

    async def gain(self, part: int) -> bool:
        """Claim the partition, load its sites and replay their window, read on. False
        while the case store is down (the membership tries again at its next beat)."""
        P = self.layout.partitions
        try:
            claim = await asyncio.to_thread(
                checkpoints.claim, self.db, self.layout.stored_stream, part, self.member
            )
            await asyncio.to_thread(
                self.engine.gain, claim, lambda site: site_partition(site, P) == part
            )
        except StaleOwner:
            return False
        except StoreError as err:
            self.outage.failed(err, f"taking partition {part}")
            await asyncio.to_thread(self.engine.lose, part)  # if claimed before it failed
            return False
        self.outage.ok()
        self._tasks[part] = asyncio.create_task(self._read(part, claim.seq))
        return True

    async def lose(self, part: int) -> None:
        """Stop reading it; its memory dropped (nothing of it commits after this)."""
        task = self._tasks.pop(part, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.to_thread(self.engine.lose, part)

    async def superseded(self) -> set[int]:
        """The partitions another engine worker has claimed since this one did (none known
        while the case store is down: nobody claims meanwhile, and nothing commits)."""
        claims = list(self.engine.claims().values())
        return await _superseded(self.db, claims, self.outage)

    async def _read(self, part: int, after: int) -> None:
        assert self._js is not None
        reader = PartitionReader(
            self._js, self.layout.stored_stream, self.layout.stored_filter(part), after
        )
        try:
            while True:
                try:
                    msgs = await reader.fetch()
                except Gap as gap:
                    log.warning("%s: %s; reading again from the checkpoint", self.member, gap)
                    claim = self.engine.claims().get(part)
                    if claim is None:
                        break
                    await reader.restart(claim.seq)
                    continue
                if not msgs:
                    continue
                items = [codec.decode(m.data) for m in msgs]
                now_ms = time.time_ns() // 1_000_000
                try:
                    committed = await asyncio.to_thread(
                        self.engine.process, items, now_ms, part=part, seq=msgs[-1].seq
                    )
                except StaleOwner:
                    log.warning("%s: partition %d claimed by another owner", self.member, part)
                    break
                except StoreError as err:
                    # nothing committed, so nothing acknowledged: the batch stays in the
                    # stream. What the failed round judged in memory is dropped with the
                    # partition; taken again, it reads on from its checkpoint (`gain`).
                    self.outage.failed(err, f"committing partition {part}")
                    await asyncio.to_thread(self.engine.lose, part)
                    break
                if committed:
                    self.outage.ok()
                    self._crash.count()
                await reader.ack(msgs[-1])  # after the commit: a crash before it reads again
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: partition %d failed; given up for now", self.member, part)
        finally:
            await reader.close()
            self._tasks.pop(part, None)
            if self._membership is not None and part not in self._tasks:
                self._membership.drop(part)

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.engine_tick_s)
            try:
                now_ms = time.time_ns() // 1_000_000
                await asyncio.to_thread(self.engine.tick, now_ms)
                self.outage.ok()
            except StaleOwner:
                pass  # the engine dropped that partition; its reader stops at its next commit
            except StoreError as err:
                self.outage.failed(err, "ticking")
            except Exception:
                log.exception("%s: tick failed", self.member)
            held = self.engine.claims()
            for part in list(self._tasks):
                if part not in held:
                    await self.lose(part)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: once NATS is there and set up, own partitions, judge them, tick."""
        link = Link(servers_of(self.settings), self.member)
        try:
            js = await joined(link, self.layout, stop)
            if js is not None:
                await self._judge(js, stop)
        finally:
            await link.close()
            self.influx.close()
            self.db.close()

    async def _judge(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        self._js = js
        self._membership = Membership(js, self.layout, ENGINE, self, member=self.member)
        ticking = asyncio.create_task(self._tick(stop))
        try:
            await self._membership.run(stop)
        finally:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.engine.checkpoint, time.time_ns() // 1_000_000)


def engine(settings: Settings, config: ConfigArg) -> int:
    """`linli engine`: one engine worker until SIGINT or SIGTERM."""
    return _until_signal(EngineWorker(settings, config), "judging")


# --- ingest ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Part:
    """A sensor partition owned by this ingest worker."""

    claim: Claim
    sensors: frozenset[str]
    task: asyncio.Task[None] | None = None


class IngestWorker:
    """`linli ingest` with LINLI_NATS_URL: stores the readings of the sensor partitions it
    owns (the pipeline and writer of `linli ingest`), publishes each stored one by its
    site, then moves the partition's checkpoint and acknowledges."""

    def __init__(
        self,
        settings: Settings,
        config: ConfigArg,
        member: str | None = None,
        policy: RulePolicy | None = None,
    ) -> None:
        self.settings = settings
        self.layout = layout_of(settings)
        self.member = member or member_id(INGEST)
        self.db = open_store(settings, config)
        self.influx: InfluxClient = open_influx(settings)
        policy = policy or load_policy(settings, config)
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        self.writer = Writer(
            self.influx,
            self.db,
            self.spool,
            self._ack,
            on_stored=self._hand_on,
            hand_on_first=True,
        )
        self.pipeline = Pipeline(
            self.db,
            self.writer.submit,
            prefix=settings.topic_prefix,
            max_readings=settings.batch_max_readings,
            max_age_ms=settings.batch_max_age_ms,
            refresh_ms=int(settings.registry_refresh_s * 1000),
            keep_readings=True,
            policy=policy or RulePolicy(calendar=Calendar(settings.tz)),
            owned_sensors=True,
        )
        self.writer.accounting = self.pipeline
        self.pipeline.new_epoch(1)
        self._parts: dict[int, _Part] = {}
        self._pending: dict[int, tuple[int, Message]] = {}  # mid → (partition, message)
        self._mids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._js: JetStreamContext | None = None
        self._membership: Membership | None = None
        self._background: set[asyncio.Future[None]] = set()
        self._crash = CrashAfter(CRASH_AFTER_STORE)
        self.health_messages = 0  # taken from the queue group (QoS 0)
        # stored and handed on, its checkpoint not yet moved (the case store down): the
        # last such message of each partition, acknowledged once its checkpoint moves
        self._behind: dict[int, Message] = {}
        self._tried_at = 0.0  # the last try to move them while the store is down
        self.outage = Outage(
            log,
            f"{self.member}: the case store",
            "readings are stored and handed on, not acknowledged: the readings stream "
            "keeps them until their checkpoints move",
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` on the loop, kept referenced until it is done."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def held(self) -> frozenset[int]:
        """The partitions this worker reads now (any thread; for tests and tools)."""
        return frozenset(self._parts)

    # -- the writer's thread --------------------------------------------------------------

    def _hand_on(self, items: Sequence[Reading | DeviceStatus]) -> None:
        """Publish each stored item by its site and wait for the stream's acknowledgement
        (before the checkpoint moves: the writer hands on first)."""
        assert self._loop is not None
        self._crash.count()  # stored in InfluxDB, not yet handed on nor acknowledged
        future = asyncio.run_coroutine_threadsafe(self._publish(items), self._loop)
        future.result()

    def _ack(self, epoch: int, mids: Sequence[int]) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._acked, list(mids))

    # -- the loop ---------------------------------------------------------------------------

    async def _publish(self, items: Sequence[Reading | DeviceStatus]) -> None:
        """Each item on its site's subject, a sensor's one after another (the stream keeps
        each sensor's order even when a publish must be sent again), sensors side by side;
        returns once the stream holds them all."""
        registry = self.pipeline.registry
        by_sensor: dict[str, list[tuple[str, bytes, str]]] = {}
        for item in items:
            sensor = registry.sensors.get(item.sensor)
            if sensor is None:
                continue
            subject = self.layout.stored_subject(sensor.site, item.sensor)
            by_sensor.setdefault(item.sensor, []).append(
                (subject, codec.encode(item), codec.msg_id(item))
            )
        await asyncio.gather(*(self._publish_in_order(run) for run in by_sensor.values()))

    async def _publish_in_order(self, run: Sequence[tuple[str, bytes, str]]) -> None:
        """Publish one sensor's items in order, each until the stream acknowledges it.

        While a NATS node dies the stream's new leader is elected within seconds and a
        publish meanwhile fails or is not answered: sent again (its Nats-Msg-Id makes a
        second copy a no-op) until it is held. The writer waits, and behind it the reading.
        """
        assert self._js is not None
        for subject, body, msg_id in run:
            delay, tries = 0.1, 0
            while True:
                try:
                    await self._js.publish(subject, body, headers={"Nats-Msg-Id": msg_id})
                    break
                except (nats.errors.Error, TimeoutError) as err:
                    if tries == 0:  # told once: NATS may be gone for a minute
                        log.warning("%s: publishing %s: %r; again", self.member, msg_id, err)
                    tries += 1
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            if tries:
                log.info("%s: published %s at try %d", self.member, msg_id, tries + 1)

    def _acked(self, mids: list[int]) -> None:
        """The writer stored (and handed on) these messages: their partitions' checkpoints
        move to the last of each, then that message is acknowledged (all before it too)."""
        for mid in mids:
            held = self._pending.pop(mid, None)
            if held is None:
                continue
            part, msg = held
            behind = self._behind.get(part)
            if behind is None or msg.seq > behind.seq:
                self._behind[part] = msg
        self._advance()

    def _advance(self) -> None:
        """Move the checkpoints of `_behind` and acknowledge. While the case store is down
        they stay behind, unacknowledged, tried again every STORE_RETRY_S (`_tick`); a
        message the checkpoint is already past (read again after a gap) is acknowledged."""
        if self.outage.down:
            if time.monotonic() - self._tried_at < STORE_RETRY_S:
                return
            self._tried_at = time.monotonic()
        for part, msg in list(self._behind.items()):
            owned = self._parts.get(part)
            if owned is None:  # lost meanwhile: the next owner stores it again
                del self._behind[part]
                continue
            if msg.seq > owned.claim.seq:
                try:
                    with self.db.partitions() as conn:
                        owned.claim = checkpoints.advance(conn, owned.claim, msg.seq)
                except StaleOwner:
                    log.warning("%s: partition %d claimed by another owner", self.member, part)
                    del self._behind[part]
                    self._spawn(self._drop(part))
                    continue
                except StoreError as err:
                    self.outage.failed(err, f"moving partition {part}'s checkpoint")
                    return
                self.outage.ok()
            del self._behind[part]
            self._spawn(msg.msg.ack())

    async def gain(self, part: int) -> bool:
        """Claim the partition, learn what InfluxDB stores of its sensors, read on."""
        P = self.layout.partitions
        sensors = frozenset(s for s in self.pipeline.registry.sensors if partition_of(s, P) == part)
        try:
            claim = await asyncio.to_thread(
                checkpoints.claim, self.db, self.layout.readings_stream, part, self.member
            )
            now_ms = time.time_ns() // 1_000_000
            owned = await asyncio.to_thread(identity.owned_stored, self.influx, sensors, now_ms)
        except StoreError as err:
            self.outage.failed(err, f"taking partition {part}")
            return False
        except Exception:
            log.exception("%s: could not take partition %d", self.member, part)
            return False
        self.outage.ok()
        self.pipeline.own(owned)
        held = self._parts[part] = _Part(claim, sensors)
        held.task = asyncio.create_task(self._read(part, claim.seq))
        return True

    async def lose(self, part: int) -> None:
        """Stop reading it and forget its sensors; what is in flight is not committed."""
        held = self._parts.pop(part, None)
        if held is None:
            return
        if held.task is not None and held.task is not asyncio.current_task():
            held.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await held.task
        self.pipeline.disown(held.sensors)

    async def superseded(self) -> set[int]:
        """The partitions another ingest worker has claimed since this one did (none known
        while the case store is down)."""
        claims = [held.claim for held in self._parts.values()]
        return await _superseded(self.db, claims, self.outage)

    async def _drop(self, part: int) -> None:
        await self.lose(part)
        if self._membership is not None:
            self._membership.drop(part)

    async def _read(self, part: int, after: int) -> None:
        assert self._js is not None
        reader = PartitionReader(
            self._js, self.layout.readings_stream, self.layout.readings_filter(part), after
        )
        prefix = self.settings.topic_prefix
        try:
            while part in self._parts:
                await self._room()  # the writer is behind: hold back
                try:
                    msgs = await reader.fetch()
                except Gap as gap:
                    log.warning("%s: %s; reading again from the checkpoint", self.member, gap)
                    await reader.restart(self._parts[part].claim.seq)
                    continue
                received_ms = time.time_ns() // 1_000_000
                for m in msgs:
                    await self._room()  # this message may complete a batch
                    if part not in self._parts:
                        return  # lost while waiting: the next owner reads it again
                    # <name>.r.<part>.<sensor>.<kind> → the device's topic
                    _, _, _, sensor, kind = m.subject.split(".", 4)
                    self._mids += 1
                    self._pending[self._mids] = (part, m)
                    self.pipeline.accept(
                        f"{prefix}/{sensor}/{kind}", m.data, self._mids, received_ms
                    )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: partition %d failed; given up for now", self.member, part)
            self._spawn(self._drop(part))
        finally:
            await reader.close()

    async def _health(self, msg: Msg) -> None:
        """A device's health message (CONTRACT §2: QoS 0, so never in `$MQTT_msgs`), one
        worker of the queue group each; stored as one `linli serve` stores it. Nothing to
        acknowledge: its message id is in no partition's pending. A QoS 1 one (the
        `Nmqtt-Pub` header says which) comes through its sensor's partition instead."""
        if (msg.headers or {}).get(MQTT_QOS_HEADER, "0") != "0":
            return
        await self._room()
        self.health_messages += 1
        self._mids += 1
        topic = self.layout.health_topic(msg.subject)
        self.pipeline.accept(topic, msg.data, self._mids, time.time_ns() // 1_000_000)

    async def _room(self) -> None:
        """Until the writer's queue has room for a batch.

        Whatever may hand the writer a batch on this loop (accepting a message, a tick, the
        last flush) waits here first: the writer's thread waits for this loop to publish
        what it stored, so a batch handed to a full queue would block the loop, and with it
        the publish the writer waits for, for good (the process silent, its partitions
        taken over as a dead member's). Only this loop hands the writer batches, so room
        seen here is still there when the pipeline flushes.
        """
        while not self.writer.ready():
            await asyncio.sleep(0.01)

    async def _tick(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._room()
            self.pipeline.tick(time.time_ns() // 1_000_000)
            if self._behind:  # the case store was down: move the checkpoints left behind
                self._advance()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: once NATS is there and set up, own partitions, store them, hand
        them on."""
        self._loop = asyncio.get_running_loop()
        link = Link(servers_of(self.settings), self.member)
        try:
            js = await joined(link, self.layout, stop)
            if js is not None and link.nc is not None:
                await self._store(link.nc, js, stop)
        finally:
            await link.close()
            self.influx.close()
            self.db.close()

    async def _store(self, nc: Client, js: JetStreamContext, stop: asyncio.Event) -> None:
        self._js = js
        await asyncio.to_thread(self.writer.start)  # hands the spool's batches on first
        self._membership = Membership(self._js, self.layout, INGEST, self, member=self.member)
        ticking = asyncio.create_task(self._tick(stop))
        health = await nc.subscribe(
            self.layout.health_subject, queue=self.layout.health_queue, cb=self._health
        )
        try:
            await self._membership.run(stop)
        finally:
            with contextlib.suppress(Exception):
                await health.unsubscribe()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room(), 10)
            self.pipeline.finish(time.time_ns() // 1_000_000)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not self.writer.drained(True):
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.1)  # the last acknowledgements
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
            await asyncio.to_thread(self.writer.stop)


async def _superseded(database: Database, claims: Collection[Claim], outage: Outage) -> set[int]:
    """store/partitions.py `superseded` off the loop; a store that does not answer is told
    to `outage` and gives none (nobody claims while it is down; the check runs again at
    the next beat)."""
    if not claims:
        return set()  # nothing to ask the store
    try:
        found = await asyncio.to_thread(checkpoints.superseded, database, claims)
    except StoreError as err:
        outage.failed(err, "checking its claims")
        return set()
    outage.ok()
    return found


def ingest(settings: Settings, config: ConfigArg) -> int:
    """`linli ingest` with LINLI_NATS_URL: one worker until SIGINT or SIGTERM."""
    return _until_signal(IngestWorker(settings, config), "storing")


def notifier_lease(settings: Settings) -> LeaseThread | None:
    """With LINLI_NATS_URL, the notifier's lease (cluster/lease.py), contending; else None."""
    if not settings.nats_url:
        return None
    return LeaseThread(
        servers_of(settings), layout_of(settings), "notifier", member_id("api")
    ).start()
