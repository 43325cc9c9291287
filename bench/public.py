"""The public pages (CONTRACT §11) over a year of 1-minute readings (docs/benchmarks.md).

    .venv/bin/python -m bench.public [--days 365] [--shops 3] [--requests 200]

Starts its own influxd (under a temp dir, stopped by PID at the end), writes `--days` of
1-minute noise readings for `--shops` shops and one residential building of one
community (525,600 readings a sensor for a year), a case store on SQLite, and serves the
API with uvicorn on a loopback port. Then, through HTTP (httpx, one client):

- `cold`: the first request of each page (no day of the 30 computed yet: the month
  report's numbers read from InfluxDB and computed for 30 days);
- `cached`: `--requests` requests of each page with `LINLI_PUBLIC_CACHE_S` 60 (the page
  from memory);
- `recomputed`: the same with `LINLI_PUBLIC_CACHE_S` 0 (every request recomputes the
  page; past days come from the per-day cache, today is read and computed again).

It prints median, p95 and max per page and says whether the slowest p95 is under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Final

import httpx
import uvicorn

from linli.api.app import create_app
from linli.api.public.public import Public
from linli.influx.client import InfluxClient
from linli.localservers import free_port, influxd
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.settings import Settings
from linli.store import CommunityRecord, Database, GridRecord, SiteRecord
from linli.wiring import api_config

MIN_MS: Final = 60_000
BATCH: Final = 10_000
BUDGET_MS: Final = 100.0


def _write(
    influx: InfluxClient, sensor: str, site: str, end_ms: int, days: int, base: float
) -> int:
    """`days` of 1-minute noise readings ending at `end_ms`, as ingest writes them."""
    n = days * 24 * 60
    start = end_ms - n * MIN_MS
    lines: list[str] = []
    for i in range(n):
        ts = start + (i + 1) * MIN_MS
        laeq = base + (i % 11) * 0.7
        lines.append(
            f"noise,sensor={sensor},site={site},grid=g1,zone=2,community=tianxin "
            f"laeq={laeq},lamax={laeq + 8},period_s=60i,seq={i + 1}i {ts}"
        )
        if len(lines) == BATCH:
            influx.write("\n".join(lines).encode())
            lines.clear()
    if lines:
        influx.write("\n".join(lines).encode())
    return n


def _registry(db: Database, shops: int) -> list[str]:
    db.apply_communities([CommunityRecord("tianxin", "天新社区")])
    db.create_grid(GridRecord("g1", "网格", community="tianxin"))
    sites = []
    for i in range(shops):
        merchant = Merchant(f"商户{i}", (Contact("店主", "13900000000"),))
        db.create_site(
            SiteRecord(f"shop-{i}", f"小店{i}", SiteKind.SHOP, Zone.Z2, "g1", merchant=merchant)
        )
        db.create_sensor(Sensor(f"n-shop-{i}", SensorKind.NOISE, f"shop-{i}"))
        sites.append(f"shop-{i}")
    db.create_site(SiteRecord("home", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_sensor(Sensor("n-home", SensorKind.NOISE, "home"))
    return [*sites, "home"]


def _times(client: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        got = client.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert got.status_code == 200, (url, got.status_code)
    return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--shops", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linli-bench-public-") as tmp:
        server = influxd(Path(tmp) / "influxdb").start()
        try:
            return run(Path(tmp), f"http://127.0.0.1:{server.port}", args)
        finally:
            server.stop()


def run(tmp: Path, influx_url: str, args: argparse.Namespace) -> int:
    """Fill, serve, measure; print the table; 1 when the slowest p95 is over budget."""
    influx = InfluxClient(influx_url, "bench", timeout_s=120)
    influx.ensure_database(f"{args.days + 30}d")
    db = Database(f"sqlite:///{tmp}/cases.db")
    sites = _registry(db, args.shops)
    end_ms = (time.time_ns() // 1_000_000) // MIN_MS * MIN_MS
    t0 = time.perf_counter()
    total = sum(
        _write(influx, f"n-{site}", site, end_ms, args.days, 45.0 + i)
        for i, site in enumerate(sites)
    )
    print(f"bench: wrote {total:,} readings ({args.days} days × {len(sites)} sensors) "
          f"in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    port = free_port()
    settings = Settings(influx_url=influx_url, influx_db="bench", db_url=f"sqlite:///{tmp}/cases.db",
                        spool_dir=tmp / "spool", public_url=f"http://127.0.0.1:{port}")  # fmt: skip
    app = create_app(api_config(settings), db, influx, lambda: True)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.05)
    rows: list[tuple[str, str, list[float]]] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            pages = [("site (shop)", f"/public/sites/{sites[0]}"),
                     ("site (residential)", "/public/sites/home"),
                     ("community list", "/public/communities/tianxin")]  # fmt: skip
            for name, url in pages:
                rows.append((name, "cold", _times(client, url, 1)))
            for name, url in pages:
                rows.append((name, "cached", _times(client, url, args.requests)))
            services = app.state.services
            uncached = replace(services, config=replace(services.config, public_cache_s=0.0))
            old = app.state.public
            app.state.public = Public(uncached, old.key, days=old.days)
            for name, url in pages:
                rows.append((name, "recomputed", _times(client, url, args.requests)))
    finally:
        web.should_exit = True
        thread.join(10)
    print(f"{'page':<20} {'cache':<11} {'n':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, how, times in rows:
        print(f"{name:<20} {how:<11} {len(times):>5} {statistics.median(times):>10.1f} "
              f"{_p95(times):>8.1f} {max(times):>8.1f}")  # fmt: skip
    worst = max(_p95(t) for _, how, t in rows if how != "cold")
    verdict = "under" if worst < BUDGET_MS else "OVER"
    print()
    print(f"bench: the slowest warm page's p95 {worst:.1f} ms, {verdict} {BUDGET_MS:.0f} ms")
    db.close()
    influx.close()
    return 0 if verdict == "under" else 1


if __name__ == "__main__":
    raise SystemExit(main())
