"""The rule engine alone: CPU per reading to unpickle and judge (docs/benchmarks.md).

    .venv/bin/python -m bench.engine [--readings 600000] [--hour H]

The readings of (b) in bench/run.py (1,000 noise sensors at one reading a second, all
over their limit, so every sensor adds an occurrence to its site's case once its window
is covered; at 23:00 over both night limits, so one of each noise rule) are pickled as
ingest's writer hands them over (linli/engineproc.py, in batches of 500), then
unpickled and judged in rounds of 50,000 by an `Engine` on a SQLite case store, as the
engine's process does; by default at 14:00 and at 23:00 local. No broker, no InfluxDB:
this is the engine's own cost, on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from bench.run import _messages, community_toml
from linli import wiring
from linli.community import apply_community, load_community
from linli.engineproc import decode, encode
from linli.rules.engine.engine import Engine
from linli.rules.reading import Reading, SensorKind
from linli.store import Database

SENSORS = 1000
BATCH = 500  # readings per writer batch
ROUND = 50_000  # readings per engine round


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readings", type=int, default=600_000)
    parser.add_argument(
        "--hour",
        type=int,
        choices=range(24),
        metavar="H",
        help="local hour the readings are placed at (default: 14, then 23)",
    )
    args = parser.parse_args()
    for hour in [14, 23] if args.hour is None else [args.hour]:
        measure(args.readings, hour)
    return 0


def measure(n: int, hour: int) -> None:
    """Pickle, unpickle and judge `n` readings placed at `hour`; print the table."""
    with tempfile.TemporaryDirectory(prefix="linli-bench-engine-") as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(community_toml(SENSORS))
        community = load_community(config)
        db = Database(f"sqlite:///{tmp}/cases.db")
        apply_community(db, community)
        readings = []
        for topic, body in _messages(n, SENSORS, hour):
            doc = orjson.loads(body)
            sensor = topic.split("/")[2]
            readings.append(
                Reading(sensor, SensorKind.NOISE, doc["ts"], doc["seq"], 1, doc["metrics"])
            )
        t0 = time.perf_counter()
        batches = [encode(readings[i : i + BATCH]) for i in range(0, n, BATCH)]
        encode_s = time.perf_counter() - t0
        engine = Engine(db, community.rules.policy("Asia/Shanghai"))
        wiring.tune_gc()
        now_ms = time.time_ns() // 1_000_000
        decode_s = judge_s = 0.0
        per_round = ROUND // BATCH
        for k in range(0, len(batches), per_round):
            t0 = time.perf_counter()
            items = [r for b in batches[k : k + per_round] for r in decode(b)]
            t1 = time.perf_counter()
            engine.process(items, now_ms)
            decode_s += t1 - t0
            judge_s += time.perf_counter() - t1
        with db.cases() as tx:
            cases, total = tx.list_cases(limit=SENSORS)
        db.close()
    us = 1e6 / n
    occurrences = sum(c.occurrences for c in cases)
    print(
        f"{n:,} readings of {SENSORS:,} sensors at {hour:02d}:00: {total} cases, "
        f"{occurrences} occurrences"
    )
    print(f"| ingest: pickle for the engine | {encode_s * us:.2f} µs per reading |")
    print(f"| engine: unpickle | {decode_s * us:.2f} µs per reading |")
    print(f"| engine: judge and keep cases (Engine.process) | {judge_s * us:.2f} µs per reading |")


if __name__ == "__main__":
    raise SystemExit(main())
