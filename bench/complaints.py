"""Corroborating a complaint against a year of 1-minute readings (docs/benchmarks.md).

    .venv/bin/python -m bench.complaints [--days 365] [--repeat 20]

Starts its own influxd (under a temp dir, stopped by PID at the end), writes `--days` of
1-minute readings for a residential building's noise sensor and a KTV's beside it (two
sensors the complaint looks at, 525,600 readings each for a year), and a case store on
SQLite. Then it times, best and median of `--repeat`:

- `judge`: reading the window's readings of the complaint's sensors back from InfluxDB
  and judging them (api/intake.py `judge`: `InfluxHistory.readings_after` per sensor,
  `rules/corroboration.corroborate`), for a 30-minute window ("now") and a 7-day one
  (the longest a complaint may name);
- `POST`: the whole `POST /api/v1/complaints` (the same, plus the transaction that keeps
  the complaint and opens its case), on distinct texts;
- for scale, one `SELECT *` of the building's whole year.

It prints how many readings each read returned: the window's, never the year's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fastapi.testclient import TestClient

from linli.api import intake
from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.localservers import influxd
from linli.rules.complaint import ComplaintRules
from linli.rules.corroboration import Corroboration
from linli.rules.reading import SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.settings import Settings
from linli.store import Database, GridRecord, SiteRecord
from linli.wiring import api_config

MIN_MS = 60_000
BATCH = 10_000
TOKEN = "bench-" + "x" * 40


def _write_year(influx: InfluxClient, sensor: str, site: str, end_ms: int, days: int) -> int:
    """`days` of 1-minute readings ending at `end_ms`, as ingest writes them (noise)."""
    n = days * 24 * 60
    start = end_ms - n * MIN_MS
    lines: list[str] = []
    for i in range(n):
        ts = start + (i + 1) * MIN_MS
        laeq = 48.0 + (i % 7) * 0.5
        lines.append(
            f"noise,sensor={sensor},site={site},grid=g1,zone=2 "
            f"laeq={laeq},lamax={laeq + 8},l90={laeq - 6},period_s=60i,seq={i + 1}i {ts}"
        )
        if len(lines) == BATCH:
            influx.write("\n".join(lines).encode())
            lines.clear()
    if lines:
        influx.write("\n".join(lines).encode())
    return n


T = TypeVar("T")


def _time(call: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times), result  # the last call's


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linli-bench-complaints-") as tmp:
        server = influxd(Path(tmp) / "influxdb").start()
        try:
            run(Path(tmp), f"http://127.0.0.1:{server.port}", args.days, args.repeat)
        finally:
            server.stop()
    return 0


def run(tmp: Path, influx_url: str, days: int, repeat: int) -> None:
    """Fill, then measure; print the table."""
    influx = InfluxClient(influx_url, "bench", timeout_s=120)
    influx.ensure_database(f"{days + 30}d")
    db = Database(f"sqlite:///{tmp}/cases.db")
    db.create_grid(GridRecord("g1", "网格"))
    db.create_site(SiteRecord("b1", "红街天城1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_site(SiteRecord("ktv", "欢唱KTV", SiteKind.SHOP, Zone.Z2, "g1"))
    db.create_sensor(Sensor("n-b1", SensorKind.NOISE, "b1"))
    db.create_sensor(Sensor("n-ktv", SensorKind.NOISE, "ktv"))
    end_ms = (time.time_ns() // 1_000_000) // MIN_MS * MIN_MS
    t0 = time.perf_counter()
    total = sum(
        _write_year(influx, s, site, end_ms, days) for s, site in (("n-b1", "b1"), ("n-ktv", "ktv"))
    )
    fill_s = time.perf_counter() - t0
    print(f"wrote {total:,} readings ({days} days × 2 sensors) in {fill_s:.0f} s")
    settings = Settings(influx_url=influx_url, influx_db="bench", admin_token=TOKEN,
                        db_url=f"sqlite:///{tmp}/cases.db", spool_dir=tmp / "spool")  # fmt: skip
    app = create_app(
        api_config(settings), db, influx, lambda: True,
        complaint_rules=ComplaintRules(near={"b1": ("ktv",)}),
    )  # fmt: skip
    services = app.state.services
    site = db.load_registry().sites["b1"]
    history = InfluxHistory(influx)
    rows: list[tuple[str, float, float, str]] = []
    for label, span_ms in (("30 min", 30 * MIN_MS), ("7 days", 7 * 24 * 60 * MIN_MS)):

        def judge(span: int = span_ms) -> Corroboration:
            return intake.judge(services, site, SensorKind.NOISE, end_ms - span, end_ms)

        best, median, _ = _time(judge, repeat)
        read = len(history.readings_after("n-b1", end_ms - span_ms, end_ms))  # what judge reads
        rows.append((f"judge, {label} window, 2 sensors", best, median, f"{read:,} per sensor"))
    client = TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"})
    n = iter(range(1_000_000))

    def post() -> dict[str, object]:
        answer = client.post("/api/v1/complaints", json={
            "site": "b1", "kind": "noise", "source": "phone", "text": f"吵 {next(n)}"})  # fmt: skip
        assert answer.status_code == 201, answer.text
        got: dict[str, object] = answer.json()
        return got

    best, median, _ = _time(post, repeat)
    rows.append(('POST /api/v1/complaints ("now": 30 min)', best, median, "30 per sensor"))
    best, median, whole = _time(
        lambda: influx.query("""SELECT * FROM "noise" WHERE "sensor" = 'n-b1'"""), min(repeat, 3)
    )
    year = sum(len(series.values) for series in whole)
    rows.append((f"for scale: SELECT * of one sensor's {days} days", best, median, f"{year:,}"))
    print(f"{'what':<48} {'best':>9} {'median':>9}  readings read")
    for what, b, m, shown in rows:
        print(f"{what:<48} {b * 1000:>7.1f} ms {m * 1000:>7.1f} ms  {shown}")
    db.close()
    influx.close()


if __name__ == "__main__":
    raise SystemExit(main())
