"""The fuzz benchmark (docs/benchmarks.md): 100,000 adversarial MQTT messages
mixed with valid readings, through real mosquitto into a real `linli serve` on a real
influxd and a SQLite case store, with linli's default limits.

    ./dev fuzzbench                 # 100,000 adversarial + 6,000 valid: about 3 minutes
    .venv/bin/python -m bench.fuzz --adversarial 20000 --valid 1200

It reports how long publishing and ingesting took, linli's memory (the serve process's
RSS before, at its peak and after; the engine's child beside it), the case store's
growth on disk and what the rejected records count against their size cap, and checks
that exactly the valid readings are stored (once: InfluxDB holds each point once, and
the count does not move afterwards) and that every rejection the parser decides is
counted (`/rejected/counts`, the evicted included). The messages come from
bench/adversarial.py, as in tests/ingest/test_fuzz_e2e.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.adversarial import expected, mixed
from bench.fastpub import publish_all
from bench.run import children, rss_mb
from linli.influx.client import InfluxClient
from linli.localservers import free_port, influxd, mosquitto, spawn_logged
from linli.store import Database

PREFIX = "linli/v1"
COMMUNITY = """\
[community]
name = "fuzz"

[[grid]]
id = "g1"
name = "一网格"

[[site]]
id = "hj-b1"
name = "红街公寓1幢"
kind = "residential"
zone = "2"
grid = "g1"

[[site]]
id = "rest-1"
name = "老杭州面馆"
kind = "shop"
category = "restaurant"
zone = "2"
grid = "g1"
cooking_heads = 2

[[sensor]]
id = "n-01"
kind = "noise"
site = "hj-b1"

[[sensor]]
id = "n-02"
kind = "noise"
site = "hj-b1"

[[sensor]]
id = "n-03"
kind = "noise"
site = "hj-b1"

[[sensor]]
id = "f-01"
kind = "fume"
site = "rest-1"
"""


def _wait(what: str, done: Any, timeout_s: float, every_s: float = 0.5) -> float:
    started = time.perf_counter()
    while not done():
        if time.perf_counter() - started > timeout_s:
            raise SystemExit(f"fuzz: {what} did not happen in {timeout_s:.0f} s")
        time.sleep(every_s)
    return time.perf_counter() - started


def _store_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("linli.db*"))


class PeakRss:
    """The serve process's RSS, sampled every 0.2 s while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_mb = rss_mb([pid])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, rss_mb([self.pid]))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def run(adversarial: int, valid: int, seed: int, work: Path) -> dict[str, Any]:
    """One run; the numbers of the report."""
    config = work / "fuzz.toml"
    config.write_text(COMMUNITY)
    broker = mosquitto(work / "mosquitto").start()
    db_server = influxd(work / "influxd").start()
    influx_url = f"http://127.0.0.1:{db_server.port}"
    port = free_port()
    token = secrets.token_hex(16)
    store_dir = work / "store"
    store_dir.mkdir()
    env = {
        **os.environ,
        "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
        "LINLI_INFLUX_URL": influx_url,
        "LINLI_INFLUX_DB": "fuzz",
        "LINLI_DB_URL": f"sqlite:///{store_dir}/linli.db",
        "LINLI_SPOOL_DIR": str(work / "spool"),
        "LINLI_API_ADDR": f"127.0.0.1:{port}",
        "LINLI_ADMIN_TOKEN": token,
        "LINLI_TZ": "Asia/Shanghai",
    }
    argv = [sys.executable, "-m", "linli", "serve", "--config", str(config)]
    serve = spawn_logged([*argv, "--log-level", "WARNING"], work / "serve.log", env)
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    influx = InfluxClient(influx_url, "fuzz")
    try:

        def up() -> bool:
            if serve.poll() is not None:
                raise SystemExit(f"fuzz: linli serve exited; see {work / 'serve.log'}")
            try:
                return bool(api.get("/health").json()["broker"]["ok"])
            except (httpx.HTTPError, ValueError, KeyError):
                return False

        _wait("linli serve answering with the broker connected", up, 60, 0.2)
        db = Database(env["LINLI_DB_URL"])
        registry = db.load_registry()
        now = int(time.time() * 1000)
        rng = random.Random(seed)
        messages, _ = mixed(rng, PREFIX, now, adversarial, valid)
        readings, rejections = expected(messages, registry, PREFIX, now)
        assert readings == valid, (readings, valid)  # no adversarial message holds one
        payload_bytes = sum(len(p) for _, p in messages)
        time.sleep(2)  # linli settled after its start
        store_before = _store_bytes(store_dir)
        rss_before = rss_mb([serve.pid])
        others = [p for p in children(serve.pid) if p != serve.pid]
        others_before = rss_mb(others)
        peak = PeakRss(serve.pid)
        started = time.perf_counter()
        published = publish_all("127.0.0.1", broker.port, messages, client_id="fuzz-pub")
        publish_s = time.perf_counter() - started

        def counted() -> int:
            return sum(c["count"] for c in api.get("/rejected/counts").json())

        def stored() -> int:
            series = influx.query('SELECT count("laeq") FROM "noise"')
            return int(series[0].values[0][1]) if series else 0

        _wait("every rejection counted", lambda: counted() >= rejections, 900)
        _wait("every valid reading stored", lambda: stored() >= valid, 300)
        ingest_s = time.perf_counter() - started
        peak_mb = peak.stop()
        time.sleep(3)  # nothing more arrives: neither count moves on
        counts = api.get("/rejected/counts").json()
        result = {
            "adversarial": adversarial,
            "valid": valid,
            "messages": len(messages),
            "payload_mb": payload_bytes / 1e6,
            "acked": published.acked,
            "publish_s": publish_s,
            "ingest_s": ingest_s,
            "messages_per_s": len(messages) / ingest_s,
            "rejections_expected": rejections,
            "rejections_counted": sum(c["count"] for c in counts),
            "rejections_evicted": sum(c["evicted"] for c in counts),
            "readings_stored": stored(),
            "rss_before_mb": rss_before,
            "rss_peak_mb": peak_mb,
            "rss_after_mb": rss_mb([serve.pid]),
            "engine_rss_before_mb": others_before,
            "engine_rss_after_mb": rss_mb(others),
            "store_growth_mb": (_store_bytes(store_dir) - store_before) / 1e6,
            "rejected_bytes_mb": db.rejected_bytes() / 1e6,
            "alive": serve.poll() is None and api.get("/health").status_code == 200,
        }
        db.close()
        return result
    finally:
        api.close()
        influx.close()
        if serve.poll() is None:
            serve.terminate()
            serve.wait(60)
        broker.stop()
        db_server.stop()


def main() -> int:
    """Run, print the report, save it under bench/results/; non-zero if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adversarial", type=int, default=100_000)
    parser.add_argument("--valid", type=int, default=6_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="linli-fuzz-"))
    try:
        r = run(args.adversarial, args.valid, args.seed, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    ok = (
        r["alive"]
        and r["acked"] == r["messages"]
        and r["readings_stored"] == r["valid"]
        and r["rejections_counted"] == r["rejections_expected"]
    )
    print(
        f"{r['messages']:,} messages ({r['adversarial']:,} adversarial, {r['valid']:,} valid, "
        f"{r['payload_mb']:,.0f} MB) published in {r['publish_s']:.1f} s, all ingested in "
        f"{r['ingest_s']:.1f} s ({r['messages_per_s']:,.0f} messages/s)\n"
        f"readings stored: {r['readings_stored']:,} of {r['valid']:,}; rejections counted: "
        f"{r['rejections_counted']:,} of {r['rejections_expected']:,} "
        f"({r['rejections_evicted']:,} of them evicted by the size cap)\n"
        f"linli serve RSS: {r['rss_before_mb']:.0f} MB before, {r['rss_peak_mb']:.0f} MB at "
        f"its peak, {r['rss_after_mb']:.0f} MB after (the engine's process: "
        f"{r['engine_rss_before_mb']:.0f} → {r['engine_rss_after_mb']:.0f} MB)\n"
        f"case store: +{r['store_growth_mb']:.0f} MB on disk; rejected records count "
        f"{r['rejected_bytes_mb']:.0f} MB against the 256 MiB (268 MB) cap\n"
        f"{'OK' if ok else 'FAILED'}: linli {'alive' if r['alive'] else 'NOT alive'}"
    )
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"fuzz-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(json.dumps(r, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
