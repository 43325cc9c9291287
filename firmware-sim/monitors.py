"""HJ 212 monitors: simulated kitchens' and stations' data loggers dialling a platform.

Each monitor connects over TCP, sends 2011 (real-time) every `rtd_period_s` and 2051
(minute data) every `min_period_s` of simulated time, each asking for an answer, and
waits for the 9014 with the same QN: `answer_timeout_real_s`, `tries` times; a frame
still unanswered is kept and sent again (back-filled) once the platform answers again.
It answers nothing the platform sends (a 1012 time set, a 9013). Its values come from
the same profiles and scripted effects as the MQTT fleet's (sampler.py); a scenario's
`offline` drops its connection for the window (the frames wait, then back-fill),
`stuck` repeats its values. A run is one asyncio loop for every monitor.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from .clock import SimClock
from .device import Kind, SensorSpec
from .hj212 import (
    CN_DATA_ANSWER,
    CN_MINUTE,
    CN_RTD,
    ST_FUME,
    ST_NOISE,
    Model,
    Replies,
    Stamp,
    data_cp,
    frame,
    request_id,
    stamp,
    upload,
)
from .profiles import build_table
from .sampler import Effect, Sampler
from .scenario import EventType, ScenarioEvent


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    """A sensor that is an HJ 212 monitor: its MN, password and model."""

    sensor: SensorSpec
    mn: str
    pw: str
    model: Model = field(default_factory=Model)


@dataclass(frozen=True, slots=True)
class MonitorOptions:
    """Where the monitors dial and how they wait; times simulated unless `_real_s`."""

    host: str = "127.0.0.1"
    port: int = 9212
    speed: float = 1.0
    start_s: int | None = None  # None: now
    duration_s: int | None = None  # None: until stop()
    tz: str = "Asia/Shanghai"
    seed: int = 0
    answer_timeout_real_s: float = 10.0  # the standard's default
    tries: int = 3
    reconnect_real_s: float = 2.0


@dataclass(slots=True)
class MonitorCounters:
    """What the monitors have done so far."""

    monitors: int = 0
    connected: int = 0
    frames: int = 0  # uploads made (each once, however often sent)
    sent: int = 0  # uploads written, retries and back-fills included
    answered: int = 0  # 9014s matched to an upload
    retries: int = 0
    backlog: int = 0  # unanswered after every try, waiting to be sent again
    backfilled: int = 0
    errors: int = 0
    last_error: str = ""


@dataclass(slots=True)
class _Upload:
    qn: str
    data: bytes


class Monitor:
    """One monitor's logger: its schedule, its queue of uploads and its connection."""

    def __init__(
        self,
        spec: MonitorSpec,
        index: int,
        fleet: Hj212Fleet,
        offline: Sequence[tuple[int, int]] = (),
        stuck: Sequence[tuple[int, int]] = (),
    ) -> None:
        self.spec = spec
        self._index = np.array([index], dtype=np.int64)
        self._fleet = fleet
        self._offline = offline
        self._stuck = stuck
        self._queue: deque[_Upload] = deque()
        self._backlog: list[_Upload] = []
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._last: dict[str, tuple[dict[str, float], dict[str, bool]]] = {}
        self._last_qn_ms = 0

    async def run(self) -> None:
        """Upload on schedule until the fleet stops, then close the connection."""
        fleet, model = self._fleet, self.spec.model
        start = int(fleet.clock.start_s)
        next_rtd = start - start % model.rtd_period_s + model.rtd_period_s
        next_min = start - start % model.min_period_s + model.min_period_s
        try:
            while not fleet.stopping:
                due = min(next_rtd, next_min)
                if fleet.end_s is not None and due > fleet.end_s:
                    break
                await fleet.until(due)
                if fleet.stopping:
                    break
                if due == next_rtd:
                    self._queue.append(self._upload(CN_RTD, due, model.rtd_period_s))
                    next_rtd += model.rtd_period_s
                if due == next_min:
                    self._queue.append(self._upload(CN_MINUTE, due, model.min_period_s))
                    next_min += model.min_period_s
                await self._deliver(due)
        finally:
            await self._close()

    def _upload(self, cn: str, end_s: int, period_s: int) -> _Upload:
        fleet, spec, model = self._fleet, self.spec, self.spec.model
        values, states = self._values(end_s, period_s, cn)
        datatime = stamp(end_s if model.stamp is Stamp.END else end_s - period_s, fleet.tz)
        now_ms = max(int(fleet.clock.now_s() * 1000), self._last_qn_ms + 1)
        self._last_qn_ms = now_ms
        qn = request_id(now_ms, fleet.tz)
        st = ST_NOISE if spec.sensor.kind is Kind.NOISE else ST_FUME
        cp = data_cp(model, cn, datatime, values, states)
        fleet.counters.frames += 1
        return _Upload(qn, frame(upload(qn, st, cn, spec.pw, spec.mn, cp), model.crc))

    def _values(
        self, end_s: int, period_s: int, cn: str
    ) -> tuple[dict[str, float], dict[str, bool]]:
        if any(a <= end_s < b for a, b in self._stuck) and cn in self._last:
            return self._last[cn]
        sampler, ends = self._fleet.sampler, np.array([end_s], dtype=np.int64)
        states: dict[str, bool] = {}
        if self.spec.sensor.kind is Kind.NOISE:
            row = sampler.noise(self._index, ends, period_s)[0]
            names = ("laeq", "lamax", "lamin", "l10", "l50", "l90")
            values = {n: round(float(v), 1) for n, v in zip(names, row, strict=True)}
        else:
            f = sampler.fume(self._index, ends, period_s)
            values = {
                "oil_fume": float(f.oil_fume[0]),
                "pm": float(f.pm[0]),
                "nmhc": float(f.nmhc[0]),
                "purifier_current": float(f.purifier_current[0]),
            }
            states = {"fan_on": bool(f.fan_on[0]), "purifier_on": bool(f.purifier_on[0])}
        self._last[cn] = (values, states)
        return values, states

    async def _deliver(self, now_s: int) -> None:
        """Send the queue in order, each upload until answered or out of tries."""
        fleet = self._fleet
        if any(a <= now_s < b for a, b in self._offline):
            await self._close()  # the router is down: the uploads wait
            return
        while self._queue and not fleet.stopping:
            upload_ = self._queue[0]
            if not await self._send_until_answered(upload_):
                self._queue.popleft()
                self._backlog.append(upload_)
                fleet.counters.backlog += 1
                return  # the platform does not answer: try again next period
            self._queue.popleft()
            if self._backlog:  # it answers again: the unanswered ones go once more
                self._queue.extend(self._backlog)
                fleet.counters.backfilled += len(self._backlog)
                fleet.counters.backlog -= len(self._backlog)
                self._backlog.clear()

    async def _send_until_answered(self, upload_: _Upload) -> bool:
        fleet = self._fleet
        for attempt in range(fleet.options.tries):
            if fleet.stopping:
                return False
            if attempt:
                fleet.counters.retries += 1
            writer = await self._connect()
            if writer is None:
                await asyncio.sleep(fleet.options.reconnect_real_s)
                continue
            answered = asyncio.get_running_loop().create_future()
            self._waiting[upload_.qn] = answered
            try:
                writer.write(upload_.data)
                await writer.drain()
                fleet.counters.sent += 1
                await asyncio.wait_for(answered, fleet.options.answer_timeout_real_s)
                fleet.counters.answered += 1
                return True
            except (TimeoutError, ConnectionError, OSError) as err:
                if not isinstance(err, TimeoutError):
                    fleet.error(f"{self.spec.mn}: {err}")
                    await self._close()
            finally:
                self._waiting.pop(upload_.qn, None)
        return False

    async def _connect(self) -> asyncio.StreamWriter | None:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        fleet = self._fleet
        try:
            reader, writer = await asyncio.open_connection(fleet.options.host, fleet.options.port)
        except OSError as err:
            fleet.error(f"{self.spec.mn}: connect {fleet.options.host}:{fleet.options.port}: {err}")
            return None
        self._writer = writer
        fleet.counters.connected += 1
        self._reader_task = asyncio.create_task(self._read(reader))
        return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Match the platform's 9014s to the uploads waiting; everything else unanswered."""
        replies = Replies()
        try:
            while data := await reader.read(4096):
                for reply in replies.feed(data):
                    if reply.get("CN") != CN_DATA_ANSWER or reply.get("MN") != self.spec.mn:
                        continue
                    waiting = self._waiting.get(reply.get("QN", ""))
                    if waiting is not None and not waiting.done():
                        waiting.set_result(None)
        except (ConnectionError, OSError):
            pass
        finally:
            if self._writer is not None and not self._writer.is_closing():
                self._writer.close()

    async def _close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._fleet.counters.connected -= 1
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task


class Hj212Fleet:
    """The HJ 212 monitors of a run, on one asyncio loop; `run()` blocks, `stop()` ends it."""

    def __init__(
        self,
        monitors: Sequence[MonitorSpec],
        options: MonitorOptions,
        events: Sequence[ScenarioEvent] = (),
        report: Callable[[MonitorCounters], None] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = o = options
        self.tz = ZoneInfo(o.tz)
        start_s = o.start_s if o.start_s is not None else int(wall())
        self.clock = SimClock(start_s, o.speed, wall, monotonic)
        self.end_s = None if o.duration_s is None else start_s + o.duration_s
        index = {m.sensor.id: i for i, m in enumerate(monitors)}
        table = build_table()
        profiles = np.array([table.index(m.sensor.profile) for m in monitors], dtype=np.int64)
        rng = np.random.default_rng(np.random.SeedSequence(o.seed).spawn(4)[3])
        mine = [e for e in events if e.sensor in index]
        effects = [Effect.of(e, index[e.sensor], start_s) for e in mine]
        self.sampler = Sampler(profiles, table, self.tz, rng, effects)
        offline: dict[str, list[tuple[int, int]]] = {}
        stuck: dict[str, list[tuple[int, int]]] = {}
        for e in mine:
            if e.type in (EventType.OFFLINE, EventType.STUCK):
                windows = offline if e.type is EventType.OFFLINE else stuck
                windows.setdefault(e.sensor, []).append((start_s + e.at_s, start_s + e.end_s))
        self.monitors = [
            Monitor(m, i, self, offline.get(m.sensor.id, ()), stuck.get(m.sensor.id, ()))
            for i, m in enumerate(monitors)
        ]
        self.counters = MonitorCounters(monitors=len(monitors))
        self._report = report
        self._monotonic = monotonic
        self._stop = threading.Event()

    @property
    def stopping(self) -> bool:
        """Whether `stop()` was called."""
        return self._stop.is_set()

    def stop(self) -> None:
        """End the run (thread- and signal-safe)."""
        self._stop.set()

    def error(self, text: str) -> None:
        """Count a connection error and keep its words."""
        self.counters.errors += 1
        self.counters.last_error = text

    def run(self, report_every_real_s: float = 10.0) -> MonitorCounters:
        """Run every monitor until the duration passes or `stop()`; the final counters."""
        asyncio.run(self._main(report_every_real_s))
        if self._report:
            self._report(self.counters)
        return self.counters

    async def until(self, sim_s: float) -> None:
        """Wait until the simulated time reaches `sim_s`, or the run stops."""
        while not self.stopping:
            delay = self.clock.real_delay_s(sim_s)
            if delay <= 0:
                return
            await asyncio.sleep(min(delay, 0.2))

    async def _main(self, report_every_real_s: float) -> None:
        self.clock.begin()
        tasks = [asyncio.create_task(m.run()) for m in self.monitors]
        next_report = self._monotonic() + report_every_real_s
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=0.2)
            if self._report and self._monotonic() >= next_report:
                next_report += report_every_real_s
                self._report(self.counters)
        for task in tasks:
            if task.exception() is not None:
                self.error(f"{type(task.exception()).__name__}: {task.exception()}")


def format_counters(c: MonitorCounters) -> str:
    """The one-line summary of the HJ 212 monitors."""
    line = (
        f"hj212 | {c.connected}/{c.monitors} connected | uploads {c.frames} sent {c.sent} "
        f"answered {c.answered} retries {c.retries} backlog {c.backlog} "
        f"back-filled {c.backfilled} errors {c.errors}"
    )
    return line + (f" ({c.last_error})" if c.errors and c.last_error else "")
