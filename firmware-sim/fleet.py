"""The fleet runner: up to 10,000 simulated sensors publishing from one process.

For each span of simulated seconds the devices whose periods end are found with one
numpy expression per distinct period (schedule.py), their readings are sampled and
aggregated in one go (sampler.py), formatted as bytes and handed to the links: paho
clients in per-device mode (link.py), a lean MQTT writer in shared mode (leanlink.py).
All connections share one selectors loop (reactor.py). Scripted faults switch device
state between seconds (timeline.py). A fleet runs once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from .clock import SimClock, check_start
from .connections import open_links
from .device import ConfigError, Device, Kind, SensorSpec, fume_metrics, noise_metrics
from .link import BaseLink
from .options import PER_DEVICE, SHARED, Counters, FleetOptions
from .profiles import build_table
from .reactor import Reactor, raise_nofile_limit
from .sampler import Effect, Sampler
from .scenario import EventType, Scenario, ScenarioEvent
from .schedule import Schedule
from .timeline import Timeline

IntArray = npt.NDArray[np.int64]


class Fleet:
    """Simulated devices, their connections, and the loop that drives both."""

    def __init__(
        self,
        sensors: Sequence[SensorSpec],
        options: FleetOptions,
        scenario: Scenario | None = None,
        report: Callable[[Counters], None] | None = None,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if options.connections not in (PER_DEVICE, SHARED):
            raise ValueError(f"connections {options.connections!r} is not per-device or shared")
        o = self.options = options
        self.devices = [Device(s, o.prefix, o.period_s, o.buffer_max) for s in sensors]
        self.index = {d.spec.id: i for i, d in enumerate(self.devices)}
        if len(self.index) != len(self.devices):
            raise ValueError("sensor ids repeat")
        unknown = sorted(scenario.sensors() - self.index.keys()) if scenario else []
        if unknown:
            raise ValueError(f"scenario names sensors not in the fleet: {', '.join(unknown)}")
        self.scenario = scenario
        self._report = report
        self._wall, self._monotonic = wall, monotonic
        setup, sampling, health = (
            np.random.default_rng(s) for s in np.random.SeedSequence(o.seed).spawn(3)
        )
        n = len(self.devices)
        self.schedule = Schedule(
            np.full(n, o.period_s, dtype=np.int64), setup.integers(0, 3600, n, dtype=np.int64)
        )
        self._boot_uptime_s = setup.integers(3_600, 30 * 86_400, n, dtype=np.int64)
        self._health_rng = health
        self._is_noise = np.array([d.spec.kind is Kind.NOISE for d in self.devices], dtype=bool)
        table = build_table()
        profiles = np.array([table.index(d.spec.profile) for d in self.devices], dtype=np.int64)
        self.sampler = Sampler(profiles, table, ZoneInfo(o.tz), sampling)
        start_s = o.start_s if o.start_s is not None else int(wall())
        self.clock = SimClock(start_s, o.speed, wall, monotonic)
        self.reactor = Reactor(retry_s=o.retry_real_s)
        self.links: list[BaseLink] = []
        self._link_of: list[BaseLink] = []
        self._timeline = Timeline(())
        self._cursor = start_s + 1  # the next second whose period ends are due
        self._stopping = False
        self._abort = False
        self._readings = self._batches = self._bad = self._health = 0
        self._real0: float | None = None
        self._running = False  # between the clock's start and the end of generation

    def run(self) -> Counters:
        """Connect, run until `duration_s` or `stop()`, drain, disconnect; final counters."""
        raise_nofile_limit()
        self.links, self._link_of = open_links(self.devices, self.options, self.reactor, self)
        try:
            self._poll_until(
                lambda: self._stopping or all(link.ready for link in self.links),
                self.options.connect_timeout_real_s,
            )
            self._poll_until(lambda: self._stopping, self.options.settle_real_s)
            self._begin()
            self._loop()
        finally:
            self._running = False
            self._shutdown()
        counters = self.counters()
        if self._report:
            self._report(counters)
        return counters

    def _loop(self) -> None:
        o = self.options
        end_s = None if o.duration_s is None else self.clock.start_s + o.duration_s
        next_report = self._monotonic() + o.report_every_real_s
        while not self._stopping and (end_s is None or self._cursor <= end_s):
            target = int(self.clock.now_s())
            if end_s is not None:
                target = min(target, end_s)
            if self._cursor <= target and self._outstanding() < o.max_outstanding:
                self._advance(target)
            wait = min(o.tick_real_s, self.clock.real_delay_s(self._cursor))
            self.reactor.poll(0.0 if self._cursor <= target else wait)
            if self._report and self._monotonic() >= next_report:
                next_report += o.report_every_real_s
                self._report(self.counters())

    def stop(self) -> None:
        """Ask the loop to finish (signal- and thread-safe); a second call cuts the drain."""
        self._abort = self._stopping
        self._stopping = True

    def _begin(self) -> None:
        start_s = self.clock.start_s = (
            self.options.start_s if self.options.start_s is not None else int(self._wall())
        )
        check_start(start_s, self._wall())
        self._cursor = start_s + 1
        events = self.scenario.events if self.scenario else ()
        effects = [Effect.of(e, self.index[e.sensor], start_s) for e in events]
        self.sampler.noise_effects = [e for e in effects if e.type is EventType.NOISE]
        self.sampler.fume_effects = [
            e for e in effects if e.type in (EventType.FUME, EventType.PURIFIER_OFF)
        ]
        self._timeline = Timeline(events, start_s)
        self.clock.begin()
        self._real0 = self._monotonic()
        self._running = True

    def _advance(self, target: int) -> None:
        """Generate from the cursor towards `target`: one chunk, cut at the next switch."""
        for event, starting in self._timeline.due(self._cursor):
            self._apply(event, starting)
        span = max(1, int(self.options.chunk_readings / max(self.schedule.readings_per_s(), 1)))
        hi = min(target, self._cursor + span - 1, self._timeline.next_s() - 1)
        if hi >= self._cursor:
            self._emit(self._cursor, hi)
            self._cursor = hi + 1

    def _emit(self, lo: int, hi: int) -> None:
        for period, devices, end_s in self.schedule.due(lo, hi):
            noise = self._is_noise[devices]
            if noise.any():
                d, e = devices[noise], end_s[noise]
                rows = self.sampler.noise(d, e, period).tolist()
                self._send(d, e, [noise_metrics(row) for row in rows])
            if not noise.all():
                d, e = devices[~noise], end_s[~noise]
                f = self.sampler.fume(d, e, period)
                columns = (f.oil_fume, f.pm, f.nmhc, f.fan_on, f.purifier_on, f.purifier_current)
                self._send(d, e, list(map(fume_metrics, *(c.tolist() for c in columns))))
        if self.options.health_every_s > 0:
            self._emit_health(*self.schedule.every(lo, hi, self.options.health_every_s))

    def _send(self, devices: IntArray, end_s: IntArray, metrics: list[bytes]) -> None:
        # The per-reading path: keep it free of anything but formatting and publishing.
        all_devices, links, sent = self.devices, self._link_of, 0
        for i, ts_s, m in zip(devices.tolist(), end_s.tolist(), metrics, strict=True):
            device = all_devices[i]
            payload = device.reading(ts_s * 1000, m)
            if device.connected and not device.offline:
                sent += links[i].publish(device.topics.telemetry, payload)
            else:
                device.keep(payload)
        self._readings += sent

    def _emit_health(self, devices: IntArray, seconds: IntArray) -> None:
        rng, n = self._health_rng, devices.size
        battery = np.round(rng.uniform(3.7, 4.1, n), 2).tolist()
        rssi = rng.integers(-90, -55, n).tolist()
        temp = np.round(rng.uniform(18.0, 38.0, n), 1).tolist()
        uptime = (self._boot_uptime_s[devices] + seconds - self.clock.start_s).tolist()
        for k, (i, ts_s) in enumerate(zip(devices.tolist(), seconds.tolist(), strict=True)):
            device = self.devices[i]
            if device.connected and not device.offline:
                payload = device.health(ts_s * 1000, battery[k], rssi[k], temp[k], uptime[k])
                self._health += self._link_of[i].notify(device.topics.health, payload, 0, False)

    def _flush_buffer(self, i: int) -> None:
        device, link = self.devices[i], self._link_of[i]
        for batch in device.take_batches():
            if link.publish(device.topics.telemetry, batch):
                self._batches += 1
                self._readings += batch.count(b'"seq":')

    def _announce(self, i: int, online: bool, ts_ms: int) -> None:
        device = self.devices[i]
        status = device.status(online, ts_ms, self.options.fw)
        self._link_of[i].notify(device.topics.status, status, 1, True)

    def _apply(self, event: ScenarioEvent, starting: bool) -> None:
        i = self.index[event.sensor]
        device, link = self.devices[i], self._link_of[i]
        ts_ms = (self.clock.start_s + (event.at_s if starting else event.end_s)) * 1000
        if event.type is EventType.OFFLINE:
            device.offline = starting
            if self.options.connections == PER_DEVICE:
                # Dropping the connection makes the broker publish the last will; the
                # status and the backfill follow in link_ready once it is back.
                link.drop() if starting else link.resume()
            elif device.connected:  # a shared link has no will per sensor: say it instead
                self._announce(i, not starting, ts_ms)
                if not starting:
                    self._flush_buffer(i)
        elif event.type is EventType.STUCK:
            device.start_stuck() if starting else device.end_stuck()
        elif event.type is EventType.BAD_PAYLOAD and device.connected and not device.offline:
            payload = event.payload or device.bad_payload(event.variant, ts_ms)
            self._bad += link.publish(device.topics.telemetry, payload)

    def link_ready(self, link: BaseLink) -> None:
        """A link is up: its devices announce themselves and backfill what they buffered."""
        ts_ms = int(self.clock.now_s()) * 1000
        for i in link.members:
            self.devices[i].connected = True
            if not self.devices[i].offline:
                self._announce(i, True, ts_ms)
                self._flush_buffer(i)

    def link_lost(self, link: BaseLink) -> None:
        """A link went down: its devices buffer until it is back."""
        for i in link.members:
            self.devices[i].connected = False

    def link_message(self, link: BaseLink, topic: str, payload: bytes) -> None:
        """A retained config message: the device obeys its `period_s`."""
        sensor = topic.removeprefix(self.options.prefix + "/").removesuffix("/config")
        i = self.index.get(sensor)
        if i is None:
            return
        try:
            # An empty retained message deletes the config: back to the default period.
            period = self.devices[i].obey(payload) if payload else self.options.period_s
        except ConfigError as err:
            link.fail(f"{sensor}: {err}")
            return
        self.devices[i].period_s = period
        self.schedule.set_period(i, period)

    def _outstanding(self) -> int:
        # A link held down by a scripted outage keeps its unacknowledged messages for
        # its reconnect; they are not waited for.
        return sum(link.outstanding for link in self.links if not link.hold)

    def _poll_until(self, done: Callable[[], bool], timeout_real_s: float) -> None:
        deadline = self._monotonic() + timeout_real_s
        while not done() and self._monotonic() < deadline:
            self.reactor.poll(self.options.tick_real_s)

    def _shutdown(self) -> None:
        """Wait for PUBACKs, say every connected device goes offline, disconnect."""
        timeout = self.options.drain_timeout_real_s
        self._poll_until(lambda: self._abort or self._outstanding() == 0, timeout)
        for link in self.links:
            if link.ready:
                for i in link.members:
                    if not self.devices[i].offline:
                        self._announce(i, False, (self._cursor - 1) * 1000)
        # Close only once the broker has the statuses: a socket closed with unread
        # PUBACKs is reset, and the broker may drop what it had not yet read.
        self._poll_until(
            lambda: self._abort or all(link.settled for link in self.links if link.ready), timeout
        )
        for link in self.links:
            link.close()
        self._poll_until(lambda: self._abort or all(link.closed for link in self.links), timeout)
        self.reactor.close()

    def counters(self) -> Counters:
        """A snapshot of the counters."""
        links, devices = self.links, self.devices
        errors = [link.last_error for link in links if link.last_error]
        return Counters(
            sim_s=float(self._cursor - 1),
            real_s=0.0 if self._real0 is None else self._monotonic() - self._real0,
            devices=len(devices),
            online=sum(d.connected and not d.offline for d in devices),
            readings=self._readings,
            messages=sum(link.sent for link in links),
            batches=self._batches,
            acked=sum(link.acked for link in links),
            buffered=sum(len(d.buffer) for d in devices),
            dropped=sum(d.dropped for d in devices),
            bad_payloads=self._bad,
            health=self._health,
            errors=sum(link.errors for link in links),
            lag_s=0.0 if not self._running else max(0.0, self.clock.now_s() - self._cursor + 1),
            last_error=errors[-1] if errors else "",
        )
