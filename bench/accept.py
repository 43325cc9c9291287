"""The MQTT thread alone: CPU per message in `Pipeline.accept` (docs/benchmarks.md).

    .venv/bin/python -m bench.accept [--sensors 1000] [--per-sensor 100] [--runs 6]

Single-reading noise messages of `--sensors` sensors, each sensor's ts rising (the
common, fresh case), parsed, judged by identity and turned into line protocol by a
`Pipeline` whose batches are dropped. No broker, no InfluxDB. The garbage collector is
tuned as the service tunes it (`linli.wiring.tune_gc`). Prints the best of `--runs`
runs in CPU time (`time.process_time`), which a machine shared with other work disturbs
less than wall time.
"""

from __future__ import annotations

import argparse
import time

import orjson

from linli.ingest.memory import MemoryStore
from linli.ingest.pipeline import Pipeline
from linli.rules.reading import SensorKind
from linli.rules.registry import Grid, Registry, Sensor, Site, SiteKind, Zone
from linli.wiring import tune_gc


def messages(sensors: int, per_sensor: int, now_ms: int) -> list[tuple[str, bytes]]:
    """Each sensor's readings, one a second up to an hour ago, interleaved by sensor."""
    out = []
    for k in range(per_sensor):
        for i in range(sensors):
            doc = {
                "ts": now_ms - 3_600_000 + k * 1000,
                "seq": k,
                "period_s": 1,
                "metrics": {"laeq": 50.0 + k % 20, "lamax": 80.0, "lamin": 30.0},
            }
            out.append((f"linli/v1/n-{i:04d}/telemetry", orjson.dumps(doc)))
    return out


def main() -> None:
    """Run and print µs of CPU per message."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sensors", type=int, default=1000)
    parser.add_argument("--per-sensor", type=int, default=100)
    parser.add_argument("--runs", type=int, default=6)
    args = parser.parse_args()
    registry = Registry(
        grids=[Grid("g1", "g")],
        sites=[Site("s1", "s", SiteKind.RESIDENTIAL, Zone.Z2, "g1")],
        sensors=[Sensor(f"n-{i:04d}", SensorKind.NOISE, "s1") for i in range(args.sensors)],
        version=1,
    )
    store = MemoryStore(registry)
    now_ms = int(time.time() * 1000)
    msgs = messages(args.sensors, args.per_sensor, now_ms)
    tune_gc()
    runs = []
    for _ in range(args.runs):
        pipeline = Pipeline(store, lambda batch: None, prefix="linli/v1", keep_readings=True)
        pipeline.seed_identity({})  # what InfluxDB holds at start: nothing
        pipeline.tick(now_ms)
        start = time.process_time()
        for mid, (topic, payload) in enumerate(msgs, start=1):
            pipeline.accept(topic, payload, mid, now_ms)
        pipeline.flush()
        runs.append((time.process_time() - start) / len(msgs) * 1e6)
    print(
        f"Pipeline.accept: best {min(runs):.2f} µs CPU per message "
        f"({len(msgs):,} messages, runs {', '.join(f'{r:.2f}' for r in runs)})"
    )


if __name__ == "__main__":
    main()
