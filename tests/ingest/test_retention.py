"""Retention policies and hourly downsampling on a real influxd: created, idempotent, exact."""

from __future__ import annotations

import math
import time

import pytest

from linli.influx.client import InfluxClient
from linli.influx.retention import DOWNSAMPLES, HOUR_MS
from linli.rules.constants import M_FUME_1H, M_NOISE_1H, RP_FOREVER, RP_RAW


@pytest.fixture
def influx(influx_url, influx_db):
    client = InfluxClient(influx_url, influx_db)
    yield client
    client.close()


def _policies(influx: InfluxClient) -> list[list[object]]:
    rows = influx.query(f'SHOW RETENTION POLICIES ON "{influx.db}"')[0].values
    return [[r[0], r[1], r[4]] for r in rows]  # name, duration, default


def _cqs(influx: InfluxClient) -> dict[str, str]:
    return {
        row[0]: row[1]
        for s in influx.query("SHOW CONTINUOUS QUERIES", db="")
        if s.name == influx.db
        for row in s.values
    }


def test_policies_and_continuous_queries_are_set_up_idempotently(influx):
    influx.ensure_database("400d")
    influx.ensure_database("400d")  # every start
    assert _policies(influx) == [
        ["autogen", "0s", False],  # InfluxDB's own, no longer the default
        [RP_RAW, "9600h0m0s", True],
        [RP_FOREVER, "0s", False],
    ]
    cqs = _cqs(influx)
    assert sorted(cqs) == sorted(d.name for d in DOWNSAMPLES)
    assert "RESAMPLE EVERY 1h FOR 1d" in cqs[M_NOISE_1H]
    assert f"INTO {influx.db}.{RP_FOREVER}.{M_NOISE_1H}" in cqs[M_NOISE_1H]
    # a changed retention is applied, an outdated CQ replaced
    influx.query(f'DROP CONTINUOUS QUERY "{M_FUME_1H}" ON "{influx.db}"', db="")
    influx.query(
        f'CREATE CONTINUOUS QUERY "{M_FUME_1H}" ON "{influx.db}" BEGIN SELECT count(pm) '
        f'INTO "{influx.db}"."{RP_FOREVER}"."x" FROM "fume" GROUP BY time(1h) END',
        db="",
    )
    influx.ensure_database("30d")
    assert _policies(influx)[1] == [RP_RAW, "720h0m0s", True]
    assert _cqs(influx) == cqs


def test_backfill_aggregates_whole_hours_exactly(influx):
    base = (time.time_ns() // 1_000_000 - 2 * 86_400_000) // HOUR_MS * HOUR_MS
    now_ms = base + 3 * HOUR_MS + 1_000  # the backfill runs over whole hours only
    influx.ensure_database("400d")
    lines = []
    levels = [50.0, 70.0, 61.5]
    for i, laeq in enumerate(levels):  # three readings in the first hour
        es = 10 ** (laeq / 10) * 60
        lines.append(
            f"noise,grid=g,sensor=n-01,site=s,zone=2 laeq={laeq},lamax={laeq + 10},"
            f"lamin={laeq - 5},laeq_es={es!r},limit_db=60.0,exceed_s={60 if laeq > 60 else 0}i,"
            f"hour_local=8i,period_s=60i {base + (i + 1) * 60_000}"
        )
    lines.append(
        f"fume,grid=g,sensor=f-01,site=r oil_fume=2.5,pm=1.0,nmhc=3.0,fan_on=true,"
        f"purifier_on=false,period_s=60i {base + 60_000}"
    )
    lines.append(
        f"fume,grid=g,sensor=f-01,site=r oil_fume=0.5,pm=1.0,nmhc=1.0,fan_on=true,"
        f"purifier_on=true,period_s=60i {base + 120_000}"
    )
    influx.write(("\n".join(lines) + "\n").encode())
    influx.ensure_database("400d", now_ms=now_ms)
    noise = influx.query(f'SELECT * FROM "{RP_FOREVER}"."{M_NOISE_1H}"')[0]
    row = dict(zip(noise.columns, noise.values[0], strict=True))
    leq = 10 * math.log10(row["laeq_es"] / row["period_s"])
    assert leq == pytest.approx(10 * math.log10(sum(10 ** (v / 10) for v in levels) / 3), abs=1e-9)
    assert {k: v for k, v in row.items() if k != "laeq_es"} == {
        "time": base,
        "exceed_s": 120,
        "grid": "g",
        "hour_local": 8,
        "lamax": 80.0,
        "lamin": 45.0,
        "limit_db": 60,
        "period_s": 180,
        "readings": 3,
        "sensor": "n-01",
        "site": "s",
        "zone": "2",
    }
    fume = influx.query(f'SELECT * FROM "{RP_FOREVER}"."{M_FUME_1H}"')[0]
    assert dict(zip(fume.columns, fume.values[0], strict=True)) == {
        "time": base,
        "exceed_s": 60,
        "fan_on_s": 120,
        "grid": "g",
        "nmhc": 2.0,
        "oil_fume": 1.5,
        "oil_fume_max": 2.5,
        "period_s": 120,
        "pm": 1.0,
        "purifier_on_s": 60,
        "readings": 2,
        "sensor": "f-01",
        "site": "r",
    }
