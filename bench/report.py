"""A site's month report against a year of 1-minute readings (docs/benchmarks.md).

    .venv/bin/python -m bench.report [--sensors 40] [--days 365] [--runs 20]

Starts its own influxd (under a temp dir, stopped at the end), registers `--sensors`
sites of one sensor each (every fifth a restaurant's fume monitor, the others noise
sensors on buildings and shops) and writes `--days` of 1-minute readings for every one
of them, as ingest writes them (ingest/lineprotocol.LineBuilder: `limit_db`, `exceed_s`,
the tags): 525,600 readings a sensor for a year. Then it times, through the API
(`GET /api/v1/reports/sites/{id}?month=`, TestClient, admin), a noise site's and a fume
site's month (the last whole month written) as JSON, CSV and XLSX: median, p95 and
largest of `--runs`, after one warm-up request; and, in process, the two parts of the
JSON one: reading the month back from InfluxDB and computing it (rules/month.py).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.api.sitemonth import no_collection
from linli.influx.client import InfluxClient
from linli.influx.month import month_readings
from linli.ingest.lineprotocol import LineBuilder
from linli.localservers import influxd
from linli.rules.localtime import Calendar
from linli.rules.month import LimitsInForce, fetch_range, month_of, site_month
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.settings import Settings
from linli.store import Database, GridRecord, SiteRecord
from linli.wiring import api_config

MIN_MS = 60_000
BATCH = 20_000
TOKEN = "bench-" + "x" * 40
TZ = "Asia/Shanghai"


def register(db: Database, sensors: int) -> list[Sensor]:
    """`sensors` sites of one sensor each: every fifth a restaurant's fume monitor."""
    db.create_grid(GridRecord("g1", "网格"))
    out = []
    for i in range(sensors):
        fume = i % 5 == 4
        site = f"s{i:03d}"
        kind = SiteKind.SHOP if fume or i % 2 else SiteKind.RESIDENTIAL
        db.create_site(SiteRecord(site, f"点位{i}", kind, Zone.Z2, "g1", cooking_heads=2))
        sensor = Sensor(
            f"{'f' if fume else 'n'}-{i:03d}", SensorKind.FUME if fume else SensorKind.NOISE, site
        )
        db.create_sensor(sensor)
        out.append(sensor)
    return out


def reading(sensor: Sensor, ts: int, i: int) -> Reading:
    """One minute of a sensor, varying over the day (a fume one cooks at lunch and dinner)."""
    if sensor.kind is SensorKind.NOISE:
        laeq = 46.0 + (i % 13) * 1.1 + (8.0 if (i // 60) % 24 in (11, 12, 19, 20) else 0.0)
        return Reading(sensor.id, SensorKind.NOISE, ts, i, 60, {"laeq": round(laeq, 1)})
    cooking = (i // 60) % 24 in (11, 12, 17, 18, 19)
    metrics: dict[str, float | bool] = {
        "oil_fume": round(0.4 + (i % 11) * 0.2, 2) if cooking else 0.05,
        "fan_on": cooking,
        "purifier_on": cooking and i % 10 != 0,
    }
    return Reading(sensor.id, SensorKind.FUME, ts, i, 60, metrics)


def fill(db: Database, influx: InfluxClient, sensors: list[Sensor], end_ms: int, days: int) -> int:
    """`days` of 1-minute readings of every sensor ending at `end_ms`, as ingest writes."""
    registry = db.load_registry()
    builder = LineBuilder(registry=registry)
    n = days * 24 * 60
    start = end_ms - n * MIN_MS
    for sensor in sensors:
        tags = registry.tags[sensor.id]
        lines: list[str] = []
        for i in range(n):
            lines.append(builder.reading(reading(sensor, start + (i + 1) * MIN_MS, i), tags))
            if len(lines) == BATCH:
                influx.write("\n".join(lines).encode())
                lines.clear()
        if lines:
            influx.write("\n".join(lines).encode())
    return n * len(sensors)


def timed(call: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median, p95 and largest of `runs` calls after one warm-up, in ms."""
    call()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, times[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=40)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if args.sensors < 5:
        parser.error("--sensors: at least 5 (one fume monitor among them)")
    with tempfile.TemporaryDirectory(prefix="linli-bench-report-") as tmp:
        server = influxd(Path(tmp) / "influxdb").start()
        try:
            run(Path(tmp), f"http://127.0.0.1:{server.port}", args)
        finally:
            server.stop()
    return 0


def run(tmp: Path, influx_url: str, args: argparse.Namespace) -> None:
    """Fill, then measure; print the table."""
    influx = InfluxClient(influx_url, "bench", timeout_s=120)
    influx.ensure_database(f"{args.days + 60}d")
    db = Database(f"sqlite:///{tmp}/cases.db")
    sensors = register(db, args.sensors)
    end_ms = (time.time_ns() // 1_000_000) // MIN_MS * MIN_MS
    t0 = time.perf_counter()
    total = fill(db, influx, sensors, end_ms, args.days)
    fill_s = time.perf_counter() - t0
    print(f"wrote {total:,} readings ({args.days} days × {args.sensors} sensors) in {fill_s:.0f} s")
    # the last whole month written (with a few days only: the month they end in)
    this = month_of(end_ms, TZ)
    first = fetch_range(this.previous(), Calendar(TZ))[0]
    written_from = end_ms - args.days * 24 * 60 * MIN_MS
    month = this.previous() if written_from <= first else this
    settings = Settings(influx_url=influx_url, influx_db="bench", admin_token=TOKEN,
                        db_url=f"sqlite:///{tmp}/cases.db", spool_dir=tmp / "spool")  # fmt: skip
    app = create_app(api_config(settings), db, influx, lambda: True)
    client = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    noise_site, fume_site = sensors[0].site, sensors[4].site
    rows: list[tuple[str, str]] = []
    for label, site in (("noise site", noise_site), ("fume site", fume_site)):
        for fmt in ("json", "csv", "xlsx"):
            url = f"/api/v1/reports/sites/{site}?month={month}&format={fmt}"

            def get(url: str = url) -> object:
                answer = client.get(url)
                assert answer.status_code == 200, answer.text
                return answer.content

            median, p95, most = timed(get, args.runs)
            rows.append(
                (
                    f"GET report, {label}, {fmt}",
                    f"median {median:.0f} ms, p95 {p95:.0f} ms, max {most:.0f} ms",
                )
            )
    cal = Calendar(TZ)
    from_ms, to_ms = fetch_range(month, cal)
    with no_collection():  # as the API reads it (api/sitemonth.py)
        read_ms = timed(lambda: month_readings(influx, noise_site, from_ms, to_ms), args.runs)
    fetched = month_readings(influx, noise_site, from_ms, to_ms)
    compute_ms = timed(
        lambda: site_month(
            noise_site, month, fetched.readings, LimitsInForce.constant(60, 50), cal
        ),
        args.runs,
    )
    rows.append(
        (
            f"in process, noise site: read the month back ({len(fetched.readings):,} readings)",
            f"median {read_ms[0]:.0f} ms, p95 {read_ms[1]:.0f} ms",
        )
    )
    rows.append(
        (
            "in process, noise site: compute (rules/month.py)",
            f"median {compute_ms[0]:.0f} ms, p95 {compute_ms[1]:.0f} ms",
        )
    )
    print(f"\nmonth {month}, {args.runs} runs each after a warm-up\n")
    print("| measurement | result |")
    print("| --- | --- |")
    for what, result in rows:
        print(f"| {what} | {result} |")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
