"""linli's ingest benchmark on real mosquitto and influxd (docs/benchmarks.md).

    .venv/bin/python -m bench.run            # the full run: about 4 minutes

(a) sustained: N simulated sensors (default 10,000) at one reading per second for
    60 s, sent by a paced publisher (bench/fastpub.py: every 10 ms the readings due,
    each stamped with its send time); linli must keep up; latency publish → queryable
    in InfluxDB (p50/p99) and linli's RSS.
(b) maximum: single-reading QoS 1 messages published as fast as the broker takes
    them (bench/fastpub.py); readings per second stored end to end.
(c) the plain way (bench/baseline.py), one paho subscriber writing each reading to
    `/write`, measured the same way; and the ratio.
--rules runs (b) a second time with `linli ingest --rules` (the rule engine judging
    every reading, every rule on) and prints both numbers and their ratio; with
    --repeat N, (b) with one worker runs off and on N times in turn, and the medians
    are compared (one run of (b) lies up to about 10 % off the median on 2 cores).
--hour H places (b)'s and (c)'s readings at local hour H (six days ago); by default
    the rules' ratio is measured by day and by night, at 14:00 and at 23:00 (then every
    reading's LAmax 75 is over the night limit + 15 and its LAeq mostly over the
    night's 50: a loud night, the rules' worst case), and (b) and (c) run at 14:00.
bench/engine.py measures the rule engine alone (CPU per reading, no servers).

Latency is measured by polling InfluxDB every 100 ms for counts per 100 ms of
reading time: a reading counts as queryable at the first poll that sees it, and its
latency is that poll's time minus the start of its 100 ms bucket (an upper bound).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson

from bench.fastpub import PublishResult, forget_session, publish_all, publish_paced
from linli.influx.client import InfluxClient
from linli.localservers import LocalServer, free_port, influxd, mosquitto, spawn_logged
from linli.standins import WebhookReceiver

PREFIX = "linli/v1"
# The latency poll looks at the last 4 s of reading time only: a wider window makes
# influxd scan every point of it ten times a second, which slows the very writes being
# measured. A reading first seen later than that counts as slower than 4 s (see below).
WINDOW_MS = 4_000
PY = sys.executable


HOOK_SECRET_ENV = "LINLI_BENCH_HOOK_SECRET"


def community_toml(n_sensors: int, hook_url: str | None = None) -> str:
    """A synthetic community: one grid, a site per 10 noise sensors; with `hook_url`, the
    grid's cases told to a signed webhook there (--notify)."""
    out = ['[community]\nname = "bench"\n']
    if hook_url is not None:
        out.append(
            f'[[channel]]\nid = "hook"\ntype = "webhook"\nurl = "{hook_url}"\n'
            f'secret = "env:{HOOK_SECRET_ENV}"\n'
        )
    notify = '\nnotify = ["hook"]' if hook_url is not None else ""
    out.append(f'[[grid]]\nid = "g-bench"\nname = "bench"{notify}\n')
    for s in range((n_sensors + 9) // 10):
        out.append(
            f'[[site]]\nid = "site-{s:05d}"\nname = "楼{s}"\nkind = "residential"\n'
            f'zone = "2"\ngrid = "g-bench"\nprofile = "residential"\n'
        )
    for i in range(n_sensors):
        out.append(f'[[sensor]]\nid = "b-n-{i:05d}"\nkind = "noise"\nsite = "site-{i // 10:05d}"\n')
    return "\n".join(out)


def cpu_ticks(pids: list[int | None]) -> int:
    """User + system CPU of these processes so far, in clock ticks."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, TypeError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def settle(influx_url: str, db: str, servers: list[LocalServer], timeout_s: float = 90) -> None:
    """Drop a finished measurement's database and wait until the servers are quiet.

    Otherwise influxd compacts the last measurement's points during the next one, and
    the numbers depend on the order the parts ran in.
    """
    InfluxClient(influx_url, db, timeout_s=60).query(f'DROP DATABASE "{db}"', db="")
    pids = [server.pid for server in servers]
    hz = os.sysconf("SC_CLK_TCK")
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        before = cpu_ticks(pids)
        time.sleep(1)
        if cpu_ticks(pids) - before <= 0.05 * hz:  # under 5 % of a core
            return


def rss_mb(pids: list[int]) -> float:
    """Resident set size of these processes, in MB."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    """A process and its children (ingest workers)."""
    out = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        kids = []
    for kid in kids:
        out.extend(children(int(kid)))
    return out


def count(influx: InfluxClient, where: str = "") -> int:
    """Noise points stored."""
    series = influx.query(f'SELECT count("laeq") FROM "noise" {where}')
    return int(series[0].values[0][1]) if series else 0


class Linli:
    """`linli ingest` as a subprocess with its own environment."""

    def __init__(
        self,
        work: Path,
        broker: LocalServer,
        db: str,
        influx_url: str,
        config: Path,
        workers: int,
        rules: bool = False,
        notify: bool = False,
    ) -> None:
        env = dict(os.environ)
        env.update(
            {
                "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
                "LINLI_INFLUX_URL": influx_url,
                "LINLI_INFLUX_DB": db,
                "LINLI_DB_URL": f"sqlite:///{work}/{db}.db",
                "LINLI_SPOOL_DIR": str(work / f"spool-{db}"),
                "LINLI_MQTT_CLIENT_ID": f"linli-{db}",
                HOOK_SECRET_ENV: "bench-secret",
                "LINLI_API_ADDR": f"127.0.0.1:{free_port()}",
            }
        )
        argv = [PY, "-m", "linli", "ingest", "--config", str(config)]
        argv += ["--workers", str(workers), "--log-level", "WARNING"]
        argv += ["--rules"] if rules else []
        self.proc = spawn_logged(argv, work / f"linli-{db}.log", env)
        # --notify: the API's process beside it runs the delivery worker (the outbox's sender)
        api = [PY, "-m", "linli", "api", "--config", str(config), "--log-level", "WARNING"]
        self.api = spawn_logged(api, work / f"linli-api-{db}.log", env) if notify else None
        self._broker_port = broker.port
        self._client_ids = (
            [f"linli-{db}"] if workers == 1 else [f"linli-{db}-{i}" for i in range(workers)]
        )

    def pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        """Stop linli by its PID (and its workers with it), then drop its broker session."""
        for proc in (self.proc, self.api):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(60)
        for client_id in self._client_ids:
            forget_session("127.0.0.1", self._broker_port, client_id)


def wait_stored(influx: InfluxClient, messages: list[tuple[str, bytes]], timeout_s: float) -> None:
    """Until every message's reading is queryable.

    Counting every point scans them all, and influxd doing that 20 times a second takes
    CPU from the run being measured; so the newest second's points (a cheap query) are
    polled first, and all of them counted only once those are in.
    """
    stamps = [orjson.loads(payload)["ts"] for _, payload in messages[-2000:]]
    last_ts = max(stamps)
    tail = f"WHERE time >= {last_ts}ms"
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if count(influx, tail) >= stamps.count(last_ts) and count(influx) >= len(messages):
            return
        time.sleep(0.05)
    raise RuntimeError(f"only {count(influx)} of {len(messages)} points after {timeout_s}s")


def sustained(
    work: Path,
    broker: LocalServer,
    influx_url: str,
    config: Path,
    n_sensors: int,
    seconds: int,
    workers: int,
) -> dict[str, float]:
    """(a) N sensors × 1/s for `seconds`: keeps up? latency p50/p99, RSS."""
    db = "sustained"
    influx = InfluxClient(influx_url, db, timeout_s=30)
    linli = Linli(work, broker, db, influx_url, config, workers)
    try:
        _wait_connected(work / "mosquitto" / "mosquitto.log", f"linli-{db}", workers, 60)
        time.sleep(2)
        # The readings' ts is their send time (to the 10 ms slot): latency is publish →
        # queryable, not the publisher's own lag. Encoding takes a few seconds first.
        start_ms = (int(time.time()) + 5) * 1000
        slots = _paced_slots(start_ms, n_sensors, seconds)
        done: list[PublishResult] = []
        publisher = threading.Thread(
            target=lambda: done.append(
                publish_paced("127.0.0.1", broker.port, slots, client_id=f"pub-{db}")
            ),
            daemon=True,
        )
        publisher.start()
        seen: dict[int, int] = {}
        latencies: list[np.ndarray] = []
        rss: list[float] = []
        next_rss = 0.0
        while True:
            now = time.time()
            since = max(start_ms, int(now * 1000) - WINDOW_MS)
            series = influx.query(
                f'SELECT count("laeq") FROM "noise" WHERE time >= {since}ms GROUP BY time(100ms)'
            )
            polled = time.time()
            for t_ms, c in series[0].values if series else []:
                new = int(c or 0) - seen.get(t_ms, 0)
                if new > 0:
                    seen[t_ms] = seen.get(t_ms, 0) + new
                    latencies.append(np.full(new, polled - t_ms / 1000))
            if now >= next_rss:
                rss.append(rss_mb(linli.pids()))
                next_rss = now + 1
            if done and polled - now < 1 and now - start_ms / 1000 > seconds + 5:
                break
            time.sleep(0.1)
        published = done[0].messages
        stored = count(influx, f"WHERE time >= {start_ms}ms")
    finally:
        linli.stop()
    # Readings stored but never seen inside the poll window took longer than WINDOW_MS.
    unseen = max(0, stored - sum(seen.values()))
    lat = np.concatenate([*latencies, np.full(unseen, np.inf)])
    return {
        "sensors": n_sensors,
        "seconds": seconds,
        "published": published,
        "stored": stored,
        "p50_s": float(np.percentile(lat, 50)),
        "p99_s": float(np.percentile(lat, 99)),
        "max_s": float(lat.max()),
        "rss_max_mb": max(rss),
        "slower_than_window": unseen,
    }


SLOTS_PER_S = 100  # the paced publisher sends every 10 ms


def _paced_slots(
    start_ms: int, n_sensors: int, seconds: int
) -> list[tuple[float, list[tuple[str, bytes]]]]:
    """N sensors × 1/s for `seconds`, spread over 10 ms slots; each reading's ts its slot."""
    out = []
    step_ms = 1000 // SLOTS_PER_S
    for second in range(seconds):
        for slot in range(SLOTS_PER_S):
            ts = start_ms + second * 1000 + slot * step_ms
            messages = []
            for k in range(slot, n_sensors, SLOTS_PER_S):
                doc = {
                    "ts": ts,
                    "seq": second,
                    "period_s": 1,
                    "metrics": {"laeq": 50.0 + (k * 7 + second) % 200 / 10, "lamax": 75.0},
                }
                messages.append((f"{PREFIX}/b-n-{k:05d}/telemetry", orjson.dumps(doc)))
            out.append((ts / 1000, messages))
    return out


def maximum(
    work: Path,
    broker: LocalServer,
    influx_url: str,
    config: Path,
    readings: int,
    n_sensors: int,
    workers: int,
    rules: bool = False,
    run: int = 0,
    hour: int = 14,
    notify: bool = False,
) -> dict[str, float]:
    """(b) single-reading messages as fast as the broker takes them, stored end to end.

    Each `run` (and `hour`) has its own database and case store. `notify`: `config` tells
    a webhook, and `linli api` runs beside ingest to send the deliveries.
    """
    db = maximum_db(workers, rules, run, hour) + ("_notify" if notify else "")
    influx = InfluxClient(influx_url, db, timeout_s=30)
    linli = Linli(work, broker, db, influx_url, config, workers, rules, notify)
    try:
        # Its session must exist before publishing starts: a message published earlier is not
        # queued for it. linli with the rule engine takes longer to start.
        _wait_connected(work / "mosquitto" / "mosquitto.log", f"linli-{db}", workers, 60)
        time.sleep(2)
        messages = _messages(readings, n_sensors, hour)
        t0 = time.perf_counter()
        result = publish_all("127.0.0.1", broker.port, messages, client_id=f"pub-{db}")
        wait_stored(influx, messages, 600)
        stored_s = seconds = time.perf_counter() - t0
        if rules:  # and every reading judged: each sensor's watermark at its last reading
            last_ts = max(json.loads(m[1])["ts"] for m in messages[-n_sensors:])
            _wait_judged(work / f"{db}.db", last_ts, n_sensors, 600)
            seconds = time.perf_counter() - t0
        written = delivered = 0
        if notify:  # what the engine wrote into the outbox, and the worker sent by now
            with sqlite3.connect(work / f"{db}.db", timeout=30) as conn:
                q = "SELECT count(*), coalesce(sum(state = 'delivered'), 0) FROM deliveries"
                written, delivered = conn.execute(q).fetchone()
    finally:
        linli.stop()
    return {
        "deliveries": written,
        "delivered": delivered,
        "readings": readings,
        "publish_per_s": readings / result.seconds,
        "stored_per_s": readings / seconds,
        "seconds": seconds,
        "judged_after_s": seconds - stored_s,  # the last judged after the last was stored
        "workers": workers,
        "hour": hour,
    }


def maximum_db(workers: int, rules: bool, run: int, hour: int) -> str:
    """The database (and case store) of one run of (b)."""
    name = f"maximum_w{workers}" + ("_rules" if rules else "") + (f"_{run}" if run else "")
    return name + ("" if hour == 14 else f"_h{hour}")


def _wait_connected(log: Path, client_id: str, workers: int, timeout_s: float) -> None:
    """Until the broker's log shows linli's client(s) connected."""
    want = f" as {client_id} " if workers == 1 else f" as {client_id}-"
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if log.exists() and log.read_text().count(want) >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{client_id} did not connect to the broker within {timeout_s}s")


def _wait_judged(store: Path, last_ts: int, n_sensors: int, timeout_s: float) -> None:
    """Until the rule engine's saved state shows every sensor judged up to `last_ts`."""
    q = "SELECT count(*) FROM rule_state WHERE json_extract(doc, '$.watermark_ms') >= ?"
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        with sqlite3.connect(store, timeout=30) as conn:
            if conn.execute(q, (last_ts,)).fetchone()[0] >= n_sensors:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the rule engine did not judge every reading within {timeout_s}s")


def _messages(readings: int, n_sensors: int, hour: int = 14) -> list[tuple[str, bytes]]:
    """The readings of (b) and (c): 1-s readings of each sensor in turn, from `hour`:00.

    Six days ago in linli's zone (LINLI_TZ's default), whatever the hour of the run. The
    levels (LAeq 50–70, LAmax 75) at a zone-2 site: at 14:00 a 10-min LAeq of about 63,
    over the day's 60 dB(A) (one noise_leq episode per sensor); at 23:00 also over the
    night's 50, and every reading's LAmax over the night limit + 15 (65 dB(A): one
    noise_night_max episode per sensor, growing with every reading) — a 1-s sensor
    beside a loud KTV, for every sensor.
    """
    day = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=6)
    base = int(day.replace(hour=hour, minute=0, second=0, microsecond=0).timestamp() * 1000)
    out = []
    for k in range(readings):
        sensor, seq = k % n_sensors, k // n_sensors
        doc = {
            "ts": base + seq * 1000,
            "seq": seq,
            "period_s": 1,
            # varied per reading: identical readings in a row would be a stuck sensor
            "metrics": {"laeq": 50.0 + (k * 7 + seq) % 200 / 10, "lamax": 75.0, "lamin": 40.0},
        }
        out.append((f"{PREFIX}/b-n-{sensor:05d}/telemetry", orjson.dumps(doc)))
    return out


def plain(
    work: Path, broker: LocalServer, influx_url: str, readings: int, n_sensors: int, hour: int
) -> dict[str, float]:
    """(c) the plain per-reading subscriber, measured like (b)."""
    db = "plain"
    influx = InfluxClient(influx_url, db, timeout_s=30)
    influx.ensure_database("400d")
    proc = subprocess.Popen(
        [PY, "-m", "bench.baseline", "127.0.0.1", str(broker.port), influx_url, db, PREFIX],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    messages = _messages(readings, n_sensors, hour)
    time.sleep(1)
    t0 = time.perf_counter()
    publish_all("127.0.0.1", broker.port, messages, client_id="pub-plain")
    wait_stored(influx, messages, 600)
    seconds = time.perf_counter() - t0
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(30)
    return {"readings": readings, "stored_per_s": readings / seconds, "seconds": seconds}


def main() -> int:
    """Run the three measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--max-readings", type=int, default=600_000)
    parser.add_argument("--plain-readings", type=int, default=20_000)
    parser.add_argument(
        "--workers",
        default="1,2",
        help="ingest workers for (b), a comma list; (a) uses the first",
    )
    parser.add_argument("--skip", default="", help="comma list of parts to skip: a,b,c")
    parser.add_argument(
        "--rules", action="store_true", help="run (b) again with the rule engine on (one worker)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="with --rules: run (b) with one worker off and on this many times, in turn, "
        "and give the median of each (one run lies up to about 10 %% off it here)",
    )
    parser.add_argument(
        "--hour",
        type=int,
        choices=range(24),
        metavar="H",
        help="local hour the readings of (b) and (c) are placed at (default: (b) and (c) "
        "at 14, and with --rules the ratio at 14 and at 23)",
    )
    parser.add_argument(
        "--notify",
        action="store_true",
        help="with --rules: a third run in each turn, rules on with the notifier telling a "
        "local webhook (linli api beside ingest sends the deliveries)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    hours = [14, 23] if args.hour is None else [args.hour]
    work = Path(tempfile.mkdtemp(prefix="linli-bench-"))
    config = work / "bench.toml"
    config.write_text(community_toml(args.sensors))
    broker = mosquitto(work / "mosquitto").start()
    db_server = influxd(work / "influxd").start()
    influx_url = f"http://127.0.0.1:{db_server.port}"
    servers = [broker, db_server]
    results: dict[str, dict[str, float]] = {}
    hook = (
        WebhookReceiver(secret="bench-secret", rate_per_min=1_000_000).start()
        if args.notify
        else None
    )
    args.notify_config = None
    if hook is not None:
        args.notify_config = work / "bench-notify.toml"
        args.notify_config.write_text(community_toml(args.sensors, hook.url))
    workers = [int(w) for w in args.workers.split(",")]
    try:
        if "a" not in args.skip:
            results["sustained"] = sustained(
                work, broker, influx_url, config, args.sensors, args.seconds, workers[0]
            )
            settle(influx_url, "sustained", servers)
        for n in workers if "b" not in args.skip else []:
            results[f"maximum_w{n}"] = maximum(
                work,
                broker,
                influx_url,
                config,
                args.max_readings,
                min(args.sensors, 1000),
                n,
                hour=hours[0],
            )
            settle(influx_url, maximum_db(n, False, 0, hours[0]), servers)
        for hour in hours if args.rules and "b" not in args.skip else []:
            results.update(
                rules_on_off(work, broker, influx_url, config, args, servers, results, hour)
            )
        if "c" not in args.skip:
            results["plain"] = plain(
                work, broker, influx_url, args.plain_readings, min(args.sensors, 1000), hours[0]
            )
    finally:
        broker.stop()
        db_server.stop()
        if hook is not None:
            hook.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    report(results)
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"run-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(results, indent=2))
    return 0


def rules_on_off(
    work: Path,
    broker: LocalServer,
    influx_url: str,
    config: Path,
    args: argparse.Namespace,
    servers: list[LocalServer],
    results: dict[str, dict[str, float]],
    hour: int,
) -> dict[str, dict[str, float]]:
    """(b) with one worker at `hour`, rules off and on in turn `--repeat` times: the medians.

    The first run without rules is (b)'s own when it ran with one worker at this hour.
    Keys end in `_h{hour}`.
    """
    sensors = min(args.sensors, 1000)
    first = results.get("maximum_w1")
    off = [first] if first is not None and first.get("hour") == hour else []
    on: list[dict[str, float]] = []
    told: list[dict[str, float]] = []
    n = args.max_readings
    for k in range(args.repeat):
        if len(off) <= k:
            off.append(maximum(work, broker, influx_url, config, n, sensors, 1, run=k, hour=hour))
            settle(influx_url, maximum_db(1, False, k, hour), servers)
        on.append(maximum(work, broker, influx_url, config, n, sensors, 1, True, k, hour))
        settle(influx_url, maximum_db(1, True, k, hour), servers)
        if args.notify_config is not None:
            cfg = args.notify_config
            told.append(maximum(work, broker, influx_url, cfg, n, sensors, 1, True, k, hour, True))
            settle(influx_url, maximum_db(1, True, k, hour) + "_notify", servers)

    def median(runs: list[dict[str, float]]) -> dict[str, float]:
        return sorted(runs, key=lambda m: m["stored_per_s"])[len(runs) // 2]

    ratios = [b["stored_per_s"] / a["stored_per_s"] for a, b in zip(off, on, strict=True)]
    notified = {}
    if told:
        each = [c["stored_per_s"] / b["stored_per_s"] for b, c in zip(on, told, strict=True)]
        notified = {
            f"maximum_notify_h{hour}": median(told),
            f"notify_ratio_h{hour}": {
                "runs": len(told),
                "median": median(told)["stored_per_s"] / median(on)["stored_per_s"],
                **{f"run_{k}": r for k, r in enumerate(each)},
            },
        }
    return {
        **notified,
        f"maximum_w1_h{hour}": median(off),
        f"maximum_rules_h{hour}": median(on),
        f"rules_ratio_h{hour}": {
            "runs": len(on),
            "median": median(on)["stored_per_s"] / median(off)["stored_per_s"],
            **{f"run_{k}": r for k, r in enumerate(ratios)},
            **{f"off_{k}": m["stored_per_s"] for k, m in enumerate(off)},
            **{f"on_{k}": m["stored_per_s"] for k, m in enumerate(on)},
        },
    }


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if np.isfinite(seconds) else f"> {WINDOW_MS / 1000:g} s"


def report(results: dict[str, dict[str, float]]) -> None:
    """Print the table docs/benchmarks.md records."""
    print(
        f"\nmachine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    )
    print("| measurement | result |\n| --- | --- |")
    if s := results.get("sustained"):
        print(
            f"| (a) sustained {s['sensors']:,} sensors × 1/s, {s['seconds']} s | "
            f"published {s['published']:,}, stored {s['stored']:,}; publish → queryable "
            f"p50 {_s(s['p50_s'])}, p99 {_s(s['p99_s'])}, max {_s(s['max_s'])}; "
            f"linli RSS max {s['rss_max_mb']:.0f} MB |"
        )
    maxima = [m for key, m in results.items() if key.startswith("maximum_w") and "_h" not in key]
    for m in maxima:
        print(
            f"| (b) maximum, single-reading QoS 1 messages, {m['readings']:,} readings, "
            f"{m['workers']:.0f} worker(s) | {m['stored_per_s']:,.0f} readings/s stored end to "
            f"end (publisher {m['publish_per_s']:,.0f}/s) |"
        )
    for key in sorted(k for k in results if k.startswith("maximum_rules_h")):
        r, hour = results[key], key.removeprefix("maximum_rules_h")
        off = results[f"maximum_w1_h{hour}"]
        print(f"| (b) at {hour}:00, rules off, 1 worker | {off['stored_per_s']:,.0f} readings/s |")
        print(
            f"| (b) at {hour}:00 with every rule on (`linli ingest --rules`), "
            f"{r['readings']:,} readings | {r['stored_per_s']:,.0f} readings/s stored and "
            f"judged (the last judged {r['judged_after_s']:.1f} s after the last was stored) |"
        )
        if q := results.get(f"rules_ratio_h{hour}"):
            each = ", ".join(f"{q[f'run_{k}']:.2f}" for k in range(int(q["runs"])))
            print(
                f"| ratio rules on / off at {hour}:00 (1 worker) | {q['median']:.2f} (median of "
                f"{q['runs']:.0f} runs each; run by run {each}) |"
            )
        if (t := results.get(f"maximum_notify_h{hour}")) and (
            q := results.get(f"notify_ratio_h{hour}")
        ):
            each = ", ".join(f"{q[f'run_{k}']:.2f}" for k in range(int(q["runs"])))
            print(
                f"| (b) at {hour}:00, rules on and the notifier (a webhook, `linli api` sending) | "
                f"{t['stored_per_s']:,.0f} readings/s, {q['median']:.2f} of rules on without it "
                f"(median of {q['runs']:.0f}; run by run {each}); "
                f"{t['deliveries']:.0f} deliveries written, {t['delivered']:.0f} sent by the end |"
            )
    if p := results.get("plain"):
        print(
            f"| (c) plain paho → /write per reading, {p['readings']:,} readings | "
            f"{p['stored_per_s']:,.0f} readings/s |"
        )
    if maxima and (p := results.get("plain")):
        best = max(maxima, key=lambda m: m["stored_per_s"])
        print(
            f"| ratio best (b) / (c) | {best['stored_per_s'] / p['stored_per_s']:.1f}× "
            f"({best['workers']:.0f} worker(s)) |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
