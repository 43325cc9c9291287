"""The HJ 212 listener's benchmark on real mosquitto and influxd (docs/benchmarks.md).

    .venv/bin/python -m bench.hj212            # 1,000 monitors, 20 frames each, 3 runs

One linli ingest (linli/ingestion.py's `Ingest`, the pipeline and writer `linli serve`
runs) in this process; the monitors in a child process of their own (so that they do not
share this one's interpreter), each a TCP connection sending its frames (CN 2011 with
answer wanted) without waiting, then reading its 9014 answers. linli answers a frame
only once it is durable, so the last answer is the last frame stored.

- frames/s stored with `--monitors` connected monitors (the median of `--runs`);
- memory per idle connection: this process's RSS before and after the monitors connect,
  divided by their number, in the first run (later runs reuse memory the earlier freed);
- the same readings as MQTT JSON messages through the same `Ingest`
  (bench/fastpub.py, QoS 1, stored when the last PUBACK comes), and the ratio of the
  medians. Each run writes to a fresh database, each path in turn.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import selectors
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from bench.fastpub import forget_session, publish_all
from linli.influx.client import InfluxClient
from linli.ingest.memory import MemoryMonitors, MemoryStore
from linli.ingestion import Ingest
from linli.localservers import free_port, influxd, mosquitto
from linli.rules.hj212 import encode
from linli.rules.hj212_profile import CrcMode, Hj212Device, Hj212Profile, Stream
from linli.rules.reading import SensorKind
from linli.rules.registry import Grid, Registry, Sensor, Site, SiteKind, Zone
from linli.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")
PREFIX = "linli/v1"
PROFILE = Hj212Profile(
    id="bench",
    codes={"LAMPBLACK": "oil_fume"},
    states={"SB1": "fan_on"},
    readings=Stream.RTD,  # the frames sent are real-time data: each one a reading
)


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def mn_of(i: int) -> str:
    return f"3301{i:012d}"


def sensor_of(i: int) -> str:
    return f"f-bench-{i:05d}"


def registry(monitors: int) -> tuple[Registry, MemoryMonitors]:
    sites = [
        Site(f"rest-{i:05d}", f"餐馆{i}", SiteKind.SHOP, Zone.Z2, "g1", cooking_heads=2)
        for i in range(monitors)
    ]
    sensors = [Sensor(sensor_of(i), SensorKind.FUME, f"rest-{i:05d}") for i in range(monitors)]
    devices = [
        Hj212Device(sensor_of(i), SensorKind.FUME, mn_of(i), "123456", PROFILE)
        for i in range(monitors)
    ]
    return Registry(grids=[Grid("g1", "一网格")], sites=sites, sensors=sensors), MemoryMonitors(
        *devices
    )


def _start_minute(run: int, frames: int) -> datetime:
    """The first reading's DataTime of `run`: runs never share a (sensor, ts)."""
    now = datetime.now(TZ).replace(second=0, microsecond=0)
    return now - timedelta(minutes=(run + 1) * frames + 10)


def frame(i: int, k: int, start: datetime) -> bytes:
    stamp = (start + timedelta(minutes=k)).strftime("%Y%m%d%H%M%S")
    return encode(
        [
            ("QN", f"{stamp}{k % 1000:03d}"),
            ("ST", "22"),
            ("CN", "2011"),
            ("PW", "123456"),
            ("MN", mn_of(i)),
            ("Flag", "5"),
            (
                "CP",
                f"DataTime={stamp};LAMPBLACK-Rtd={1 + (i + k) % 40 / 10},LAMPBLACK-Flag=N;SB1-RS=1",
            ),
        ],
        CrcMode.HJ212,
    )


def message(i: int, k: int, start: datetime) -> tuple[str, bytes]:
    """The same reading as `frame(i, k, start)`, as an MQTT message."""
    ts_ms = int((start + timedelta(minutes=k + 1)).timestamp() * 1000)
    body = {
        "ts": ts_ms,
        "seq": ts_ms // 1000,
        "period_s": 60,
        "metrics": {"oil_fume": 1 + (i + k) % 40 / 10, "fan_on": True},
    }
    return f"{PREFIX}/{sensor_of(i)}/telemetry", orjson.dumps(body)


# -- the monitors' process ---------------------------------------------------------------


def monitors_process(
    port: int, monitors: int, frames: int, start_iso: str, pipe: Connection
) -> None:
    """Connect every monitor, say so, wait for the go, send, count answers, report."""
    _raise_fd_limit()
    start = datetime.fromisoformat(start_iso)
    socks = []
    for _ in range(monitors):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    pipe.send("connected")
    pipe.recv()  # go
    payloads = [b"".join(frame(i, k, start) for k in range(frames)) for i in range(monitors)]
    sel = selectors.DefaultSelector()
    began = time.perf_counter()
    left = {}
    answers = {}
    for i, s in enumerate(socks):
        left[s] = memoryview(payloads[i])
        answers[s] = 0
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, i)
    done = 0
    while done < monitors:
        for key, events in sel.select(timeout=60):
            s = socks[key.data]
            if events & selectors.EVENT_WRITE and left[s]:
                try:
                    sent = s.send(left[s])
                except BlockingIOError:
                    sent = 0
                left[s] = left[s][sent:]
                if not left[s]:
                    sel.modify(s, selectors.EVENT_READ, key.data)
            if events & selectors.EVENT_READ:
                data = s.recv(65536)
                if not data:
                    raise RuntimeError("linli closed a monitor's connection")
                answers[s] += data.count(b"\r\n")
                if answers[s] >= frames:
                    sel.unregister(s)
                    done += 1
    elapsed = time.perf_counter() - began
    pipe.send(elapsed)
    pipe.recv()  # may close
    for s in socks:
        s.close()


# -- linli's side ------------------------------------------------------------------------


@dataclass
class Servers:
    mqtt_port: int
    influx_url: str


def make_ingest(
    servers: Servers, db: str, store: MemoryStore, monitors: MemoryMonitors, spool: Path, port: int
) -> Ingest:
    settings = Settings(
        mqtt_url=f"mqtt://127.0.0.1:{servers.mqtt_port}",
        influx_url=servers.influx_url,
        influx_db=db,
        topic_prefix=PREFIX,
        spool_dir=spool,
        mqtt_client_id=f"linli-{db}",
        hj212_addr=f"127.0.0.1:{port}",
        hj212_idle_s=3600.0,
    )
    influx = InfluxClient(servers.influx_url, db)
    influx.ensure_database("400d")
    return Ingest(settings, store, store, influx, hj212=monitors)


def run_hj212(
    servers: Servers, args: argparse.Namespace, run: int, tmp: Path
) -> tuple[float, float]:
    """(frames/s stored, KiB of RSS per idle connection)."""
    store_reg, monitors = registry(args.monitors)
    store = MemoryStore(store_reg)
    port = free_port()
    ingest = make_ingest(servers, f"hj{run}", store, monitors, tmp / f"spool-hj{run}", port)
    ingest.start(wait_subscribed_s=60)
    try:
        start = _start_minute(run, args.frames)
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        proc = ctx.Process(
            target=monitors_process,
            args=(port, args.monitors, args.frames, start.isoformat(), theirs),
        )
        gc.collect()
        before = _rss_kb()
        proc.start()
        assert ours.recv() == "connected"
        assert ingest.hj212 is not None
        deadline = time.monotonic() + 60
        while ingest.hj212.connections < args.monitors and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        per_conn_kb = (_rss_kb() - before) / args.monitors
        ours.send("go")
        elapsed = ours.recv()
        ours.send("close")
        proc.join(60)
        total = args.monitors * args.frames
        if store.rejections:
            raise RuntimeError(f"rejections: {store.rejections[:3]}")
        return total / elapsed, per_conn_kb
    finally:
        ingest.stop()


def run_mqtt(servers: Servers, args: argparse.Namespace, run: int, tmp: Path) -> float:
    """Readings/s stored of the same readings as MQTT messages."""
    store_reg, monitors = registry(args.monitors)
    store = MemoryStore(store_reg)
    ingest = make_ingest(servers, f"mq{run}", store, monitors, tmp / f"spool-mq{run}", free_port())
    ingest.start(wait_subscribed_s=60)
    try:
        start = _start_minute(run, args.frames)
        messages = [message(i, k, start) for k in range(args.frames) for i in range(args.monitors)]
        client = f"bench-hj-pub-{run}"
        forget_session("127.0.0.1", servers.mqtt_port, client)
        began = time.perf_counter()
        publish_all("127.0.0.1", servers.mqtt_port, messages, client_id=client)
        total = len(messages)
        deadline = time.monotonic() + 600
        while ingest.source.acked < total and time.monotonic() < deadline:
            time.sleep(0.005)
        elapsed = time.perf_counter() - began
        if ingest.source.acked < total:
            raise RuntimeError(f"MQTT path stored {ingest.source.acked} of {total}")
        return total / elapsed
    finally:
        ingest.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--frames", type=int, default=20, help="frames per monitor per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="linli-bench-hj212-") as name:
        tmp = Path(name)
        broker = mosquitto(tmp / "mosquitto").start()
        influx = influxd(tmp / "influxd").start()
        try:
            servers = Servers(broker.port, f"http://127.0.0.1:{influx.port}")
            hj, mq, mem = [], [], []
            for run in range(args.runs):
                fps, per_conn = run_hj212(servers, args, run, tmp)
                hj.append(fps)
                mem.append(per_conn)
                mq.append(run_mqtt(servers, args, run + args.runs, tmp))
        finally:
            influx.stop()
            broker.stop()
    n = args.monitors * args.frames
    hj_med, mq_med = statistics.median(hj), statistics.median(mq)
    print(f"HJ 212 listener, {args.monitors:,} monitors, {n:,} frames a run, {args.runs} runs")
    print()
    print("| measurement | result |")
    print("| --- | --- |")
    print(
        f"| HJ 212 frames stored, {args.monitors:,} connected monitors | "
        f"{hj_med:,.0f} frames/s (median; runs {', '.join(f'{x:,.0f}' for x in hj)}) |"
    )
    print(
        f"| the same readings over MQTT | "
        f"{mq_med:,.0f} readings/s (median; runs {', '.join(f'{x:,.0f}' for x in mq)}) |"
    )
    print(f"| ratio HJ 212 / MQTT | {hj_med / mq_med:.2f} |")
    print(f"| memory per idle connection | {mem[0]:,.1f} KiB RSS |")
    print()
    print(f"(pid {os.getpid()}, {datetime.now(TZ):%Y-%m-%d %H:%M} {TZ})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
