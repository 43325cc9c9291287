"""`linli sim`: run a simulated sensor fleet against any MQTT broker."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .clock import check_start, parse_start
from .device import FIRMWARE, PERIOD_MAX_S, PERIOD_MIN_S, SensorSpec
from .fleet import Fleet
from .link import Endpoint
from .monitors import Hj212Fleet, MonitorCounters, MonitorOptions, MonitorSpec
from .monitors import format_counters as format_monitor_counters
from .options import PER_DEVICE, SHARED, Counters, FleetOptions
from .scenario import Scenario, ScenarioError, ScenarioEvent, load_scenario, parse_duration
from .sensors import CommunityError, load_community, load_monitors, synthetic_sensors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulator's options to `parser`."""
    env = os.environ.get
    parser.add_argument(
        "--mqtt-url",
        default=env("LINLI_MQTT_URL", "mqtt://127.0.0.1:1883"),
        help="broker, mqtt://host:port or mqtts://user:pass@host:port (env LINLI_MQTT_URL)",
    )
    parser.add_argument(
        "--prefix", default=env("LINLI_TOPIC_PREFIX", "linli/v1"), help="topic prefix"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--community",
        metavar="FILE",
        action="append",
        help="take [[sensor]]s from this TOML; given again, a street's other communities too",
    )
    source.add_argument("--sensors", type=int, metavar="N", help="N synthetic sensors")
    parser.add_argument(
        "--fume-share", type=float, default=0.25, help="share of synthetic sensors that are fume"
    )
    parser.add_argument(
        "--period", type=int, default=60, metavar="S", help="averaging period until config says"
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="simulated seconds per real second"
    )
    parser.add_argument(
        "--start",
        default="now",
        metavar="TIME",
        help="simulated start: now, '6h ago' (or --start=-6h), 2026-11-27T12:00+08:00; "
        "within the last 7 days",
    )
    parser.add_argument(
        "--duration", metavar="S", help="simulated time to run (90, 10m, 2h); default: until ^C"
    )
    parser.add_argument("--scenario", metavar="FILE", help="scripted events (TOML), or a name")
    parser.add_argument(
        "--connections",
        choices=(PER_DEVICE, SHARED),
        default=PER_DEVICE,
        help="per-device: one connection per sensor (ACLs); shared: a few for all",
    )
    parser.add_argument(
        "--links", type=int, default=4, metavar="K", help="connections in shared mode"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--tz", default=env("LINLI_TZ", "Asia/Shanghai"), help="the community's time zone"
    )
    parser.add_argument(
        "--health-every", type=int, default=300, metavar="S", help="health period, 0 = never"
    )
    parser.add_argument("--fw", default=FIRMWARE, help="firmware version in status messages")
    parser.add_argument(
        "--hj212-addr",
        default=env("LINLI_HJ212_ADDR"),
        metavar="HOST:PORT",
        help="simulate the community file's sensors with an hj212 block as HJ 212 monitors "
        "dialling this address (env LINLI_HJ212_ADDR); without it they speak MQTT",
    )
    parser.add_argument(
        "--hj212-answer-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="real seconds an HJ 212 monitor waits for its 9014 before sending again",
    )


def run(args: argparse.Namespace) -> int:
    """Run the fleet until --duration, SIGINT or SIGTERM; prints a summary every 10 s."""
    out: TextIO = sys.stdout
    try:
        options, sensors, fleet_scenario = _build(args)
        monitors = _monitors(args, sensors)
        taken = {m.sensor.id for m in monitors}
        mqtt = [s for s in sensors if s.id not in taken]
        events = fleet_scenario.events if fleet_scenario else ()
        if fleet_scenario is not None and taken:
            kept = tuple(e for e in events if e.sensor not in taken)
            fleet_scenario = Scenario(fleet_scenario.name, fleet_scenario.description, kept)
        fleet = (
            Fleet(mqtt, options, fleet_scenario, report=_reporter(out, options)) if mqtt else None
        )
        hj212 = _hj212_fleet(args, options, monitors, events, out) if monitors else None
    except (ValueError, ScenarioError, CommunityError, ZoneInfoNotFoundError) as err:
        print(f"linli sim: {err}", file=sys.stderr)
        return 2
    if fleet is not None:
        print(
            f"linli sim: {len(mqtt)} sensors, {options.connections} connections to "
            f"{_redact(options.mqtt_url)}, prefix {options.prefix}, speed ×{options.speed:g}",
            file=out,
            flush=True,
        )
    if hj212 is not None:
        print(
            f"linli sim: {len(monitors)} HJ 212 monitors dialling {args.hj212_addr}, "
            f"speed ×{options.speed:g}",
            file=out,
            flush=True,
        )
    return _run_both(fleet, hj212)


def _run_both(fleet: Fleet | None, hj212: Hj212Fleet | None) -> int:
    """The MQTT fleet in this thread and the HJ 212 monitors beside it, stopped together."""
    thread = None
    if hj212 is not None and fleet is not None:
        thread = threading.Thread(target=hj212.run, name="linli-sim-hj212", daemon=True)
    stops = [f.stop for f in (fleet, hj212) if f is not None]

    def stop_all() -> None:
        for stop in stops:
            stop()

    with _signals_stop(stop_all):
        if thread is not None:
            thread.start()
        if fleet is None:
            assert hj212 is not None
            monitor_counters = hj212.run()
            return 0 if monitor_counters.sent or not monitor_counters.errors else 1
        counters = fleet.run()
    if thread is not None and hj212 is not None:
        hj212.stop()
        thread.join(30)
    if counters.messages == 0 and counters.errors:
        print(f"linli sim: nothing sent; last error: {counters.last_error}", file=sys.stderr)
        return 1
    return 0


def _monitors(args: argparse.Namespace, sensors: list[SensorSpec]) -> list[MonitorSpec]:
    """The community files' HJ 212 monitors when --hj212-addr is given; none otherwise."""
    if not getattr(args, "hj212_addr", None) or not args.community:
        return []
    _host_port(args.hj212_addr)
    return [m for path in args.community for m in load_monitors(path, sensors)]


def _hj212_fleet(
    args: argparse.Namespace,
    options: FleetOptions,
    monitors: list[MonitorSpec],
    events: tuple[ScenarioEvent, ...] | Sequence[ScenarioEvent],
    out: TextIO,
) -> Hj212Fleet:
    host, port = _host_port(args.hj212_addr)
    hj212_options = MonitorOptions(
        host=host,
        port=port,
        speed=options.speed,
        start_s=options.start_s,
        duration_s=options.duration_s,
        tz=options.tz,
        seed=options.seed,
        answer_timeout_real_s=args.hj212_answer_timeout,
    )

    def report(c: MonitorCounters) -> None:
        print(format_monitor_counters(c), file=out, flush=True)

    return Hj212Fleet(monitors, hj212_options, events, report=report)


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"--hj212-addr {text!r} is not host:port")
    return host or "127.0.0.1", int(port)


def _build(args: argparse.Namespace) -> tuple[FleetOptions, list[SensorSpec], Scenario | None]:
    tz = ZoneInfo(args.tz)
    Endpoint.parse(args.mqtt_url)
    if not PERIOD_MIN_S <= args.period <= PERIOD_MAX_S:
        raise ValueError(f"--period {args.period} outside {PERIOD_MIN_S}-{PERIOD_MAX_S}")
    if args.community:
        sensors = [sensor for path in args.community for sensor in load_community(path)]
    elif args.sensors:
        sensors = synthetic_sensors(args.sensors, args.fume_share)
    else:
        raise ValueError("give --community FILE or --sensors N")
    start_s = parse_start(args.start, tz, time.time())
    check_start(start_s, time.time())
    options = FleetOptions(
        mqtt_url=args.mqtt_url,
        prefix=args.prefix.rstrip("/"),
        period_s=args.period,
        speed=args.speed,
        start_s=None if args.start == "now" else start_s,
        duration_s=None if args.duration is None else parse_duration(args.duration),
        connections=args.connections,
        shared_links=args.links,
        seed=args.seed,
        tz=args.tz,
        fw=args.fw,
        health_every_s=args.health_every,
    )
    scenario = load_scenario(args.scenario) if args.scenario else None
    return options, sensors, scenario


def format_counters(c: Counters, tz: ZoneInfo, speed: float, rate_per_s: float) -> str:
    """The one-line summary."""
    when = datetime.fromtimestamp(c.sim_s, tz).isoformat(sep=" ", timespec="seconds")
    lag = f" lag {c.lag_s:.0f}s" if c.lag_s >= 2 else ""
    line = (
        f"sim {when} ×{speed:g}{lag} | {c.online}/{c.devices} online | "
        f"readings {c.readings} ({rate_per_s:.0f}/s) messages {c.messages} "
        f"batches {c.batches} acked {c.acked} | buffered {c.buffered} dropped {c.dropped} "
        f"bad {c.bad_payloads} health {c.health} errors {c.errors}"
    )
    return line + (f" ({c.last_error})" if c.errors and c.last_error else "")


def _reporter(out: TextIO, options: FleetOptions) -> Callable[[Counters], None]:
    tz = ZoneInfo(options.tz)
    last = {"readings": 0, "real_s": 0.0}

    def report(c: Counters) -> None:
        """Print the summary with the reading rate since the last one."""
        elapsed = c.real_s - last["real_s"]
        rate = (c.readings - last["readings"]) / elapsed if elapsed > 0 else 0.0
        last.update(readings=c.readings, real_s=c.real_s)
        print(format_counters(c, tz, options.speed, rate), file=out, flush=True)

    return report


@contextlib.contextmanager
def _signals_stop(stop: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM call `stop` instead of ending the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {
        sig: signal.signal(sig, lambda _s, _f: stop()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest
