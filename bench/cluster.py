"""linli on the 3-node NATS cluster with the rules on (CONTRACT §12, docs/cluster.md).

    .venv/bin/python -m bench.cluster          # the default run: about 4 minutes

The same single-reading QoS 1 messages (bench/run.py's (b): 1-s noise readings of
--sensors sensors in turn, at 14:00 six days ago) published as fast as the broker
acknowledges them (bench/fastpub.py):

- once to mosquitto with one `linli serve` (ingest and the rule engine in one process):
  the baseline;
- once for each worker count in --workers (default 1, 2, 4) to the first node's MQTT
  listener of a local 3-node NATS cluster, with that many `python -m linli ingest` and
  as many `python -m linli engine` processes on their own streams (a NATS name and a
  topic prefix of their own) with --partitions partitions.

Every case store is a database of one local PostgreSQL (tests/pg.py's throwaway
cluster, fsync off, as the tests run it), every reading store a database of one local
influxd. Each run is timed from the first publish to the last reading judged: every
sensor's saved rule state at its last reading (saved in the same transaction as its
partition's checkpoint). After the clock stops the cluster runs are checked: every
engine checkpoint at its partition's last message of the stored stream, every reading
stored in InfluxDB.

On this machine's 2 cores, everything (3 NATS nodes, influxd, PostgreSQL, the
publisher and the workers) shares the two: 4 + 4 workers measure contention, not scale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.js.errors
import orjson
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import select

from bench.fastpub import forget_session, publish_all
from bench.run import PREFIX, _messages, community_toml, count
from linli.cluster.layout import Layout
from linli.community import apply_street, load_street
from linli.influx.client import InfluxClient
from linli.localservers import free_port, influxd, mosquitto, spawn_logged
from linli.natsservers import NatsCluster, nats_cluster
from linli.store import Database
from linli.store.tables import partition_checkpoints
from tests.pg import Postgres

PY = sys.executable


@dataclass(frozen=True, slots=True)
class Run:
    """One measured run."""

    what: str
    workers: int
    readings: int
    seconds: float
    publish_s: float

    @property
    def per_s(self) -> float:
        return self.readings / self.seconds


def load_avg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def wait(what: str, check: object, timeout_s: float, every_s: float = 0.1) -> None:
    """Until `check()` is true, or fail naming `what`."""
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(every_s)
    raise RuntimeError(f"{what}: not within {timeout_s:.0f} s")


def judged(db: Database, last_ts: dict[str, int]) -> bool:
    """Every sensor's saved rule state at (or past) its last reading."""
    with db.cases() as tx:
        states = tx.load_states()
    return all(
        (st := states.get(s)) is not None and (st.watermark_ms or 0) >= ts
        for s, ts in last_ts.items()
    )


def last_ts_of(messages: list[tuple[str, bytes]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for topic, payload in messages:
        out[topic.split("/")[-2]] = orjson.loads(payload)["ts"]
    return out


def retopic(messages: list[tuple[str, bytes]], prefix: str) -> list[tuple[str, bytes]]:
    """The same readings under another topic prefix (each run on streams of its own)."""
    return [(prefix + t.removeprefix(PREFIX), p) for t, p in messages]


class Bench:
    """The servers of one benchmark run and the measurements on them."""

    def __init__(self, work: Path, config: Path, partitions: int) -> None:
        self.work, self.config, self.partitions = work, config, partitions
        self.street = load_street([config])
        self.broker = mosquitto(work / "mosquitto").start()
        self.influxd = influxd(work / "influxd").start()
        self.influx_url = f"http://127.0.0.1:{self.influxd.port}"
        self.pg = Postgres(Path(tempfile.mkdtemp(prefix="linli-bench-pg-")) / "pg").start()
        self.nats: NatsCluster = nats_cluster(work / "nats").start()

    def stop(self) -> None:
        for server in (self.nats, self.pg, self.influxd, self.broker):
            server.stop()
        shutil.rmtree(self.pg.root.parent, ignore_errors=True)

    def stores(self, name: str) -> tuple[str, Database, InfluxClient]:
        """A fresh case store (PostgreSQL, the street applied) and InfluxDB database."""
        url = self.pg.create_db(name)
        db = Database(url)
        apply_street(db, self.street)
        influx = InfluxClient(self.influx_url, name, timeout_s=30)
        influx.ensure_database("400d")
        return url, db, influx

    def env(self, mqtt_url: str, name: str, db_url: str, prefix: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
        return {
            **env,
            "LINLI_MQTT_URL": mqtt_url,
            "LINLI_INFLUX_URL": self.influx_url,
            "LINLI_INFLUX_DB": name,
            "LINLI_DB_URL": db_url,
            "LINLI_TOPIC_PREFIX": prefix,
            "LINLI_SPOOL_DIR": str(self.work / f"spool-{name}"),
        }

    def single(self, messages: list[tuple[str, bytes]]) -> Run:
        """One `linli serve` on mosquitto."""
        name, prefix = "single", "single/v1"
        url, db, influx = self.stores(name)
        env = {
            **self.env(f"mqtt://127.0.0.1:{self.broker.port}", name, url, prefix),
            "LINLI_API_ADDR": f"127.0.0.1:{free_port()}",
            "LINLI_MQTT_CLIENT_ID": f"linli-{name}",
        }
        log = self.work / f"{name}.log"
        proc = spawn_logged([PY, "-m", "linli", "serve"], log, env)
        try:
            wait(
                "linli serve subscribed",
                lambda: "subscribed" in log.read_text() and "taking batches" in log.read_text(),
                120,
            )
            run = self._measure("one linli serve", 1, self.broker.port, prefix, messages, db)
            check_stored(influx, len(messages))
            return run
        finally:
            stop(proc)
            forget_session("127.0.0.1", self.broker.port, f"linli-{name}")
            db.close()

    def cluster(self, workers: int, messages: list[tuple[str, bytes]]) -> Run:
        """`workers` ingest and as many engine processes on the 3-node cluster."""
        name, prefix = f"bench_w{workers}", f"w{workers}/v1"
        url, db, influx = self.stores(name)
        env = {
            **self.env(self.nats.nodes[0].mqtt_url, name, url, prefix),
            "LINLI_NATS_URL": self.nats.url,
            "LINLI_NATS_NAME": name,
            "LINLI_NATS_PARTITIONS": str(self.partitions),
        }
        setup = subprocess.run(
            [PY, "-m", "linli", "nats", "setup"], env=env, capture_output=True, timeout=120
        )
        if setup.returncode != 0:
            raise RuntimeError(f"linli nats setup: {setup.stderr.decode()}")
        layout = Layout(name, self.partitions, prefix)
        procs = []
        try:
            for role in ("ingest", "engine"):
                for i in range(workers):
                    own = {**env, "LINLI_SPOOL_DIR": str(self.work / f"spool-{name}-{role}-{i}")}
                    log = self.work / f"{name}-{role}-{i}.log"
                    procs.append(spawn_logged([PY, "-m", "linli", role], log, own))
            share = min(workers, self.partitions)
            for stream in (layout.readings_stream, layout.stored_stream):
                wait(
                    f"{stream} shared by {share} workers",
                    lambda s=stream: owners(db, s, self.partitions) == share,
                    120,
                    0.5,
                )
            run = self._measure(
                f"{workers} ingest + {workers} engine", workers, self.nats.nodes[0].mqtt_port,
                prefix, messages, db,
            )  # fmt: skip
            # checked after the clock: each checkpoint at its partition's last message,
            # every reading in InfluxDB
            last = asyncio.run(partition_ends(self.nats.url, layout))
            wait(
                "every engine checkpoint at its partition's end",
                lambda: checkpoints(db, layout.stored_stream) == last,
                60,
            )
            check_stored(influx, len(messages))
            return run
        finally:
            for proc in procs:
                stop(proc)
            db.close()

    def _measure(
        self,
        what: str,
        workers: int,
        port: int,
        prefix: str,
        base: list[tuple[str, bytes]],
        db: Database,
    ) -> Run:
        messages = retopic(base, prefix)
        last_ts = last_ts_of(messages)
        time.sleep(1)
        t0 = time.perf_counter()
        published = publish_all("127.0.0.1", port, messages, client_id=f"pub-{prefix[:-3]}")
        if published.acked != published.messages:
            raise RuntimeError(f"{what}: {published.acked} of {published.messages} acknowledged")
        wait(f"{what}: every reading judged", lambda: judged(db, last_ts), 300, 0.2)
        return Run(what, workers, len(messages), time.perf_counter() - t0, published.seconds)


def check_stored(influx: InfluxClient, n: int) -> None:
    """Every reading in InfluxDB, once."""
    if (stored := count(influx)) != n:
        raise RuntimeError(f"{stored} of {n} readings in InfluxDB")


def owners(db: Database, stream: str, partitions: int) -> int:
    """How many workers own the stream's partitions (0 until each is claimed)."""
    with db.partitions() as conn:
        rows = conn.execute(
            select(partition_checkpoints.c.owner).where(partition_checkpoints.c.stream == stream)
        ).all()
    return len({r.owner for r in rows if r.owner}) if len(rows) == partitions else 0


def checkpoints(db: Database, stream: str) -> dict[int, int]:
    with db.partitions() as conn:
        rows = conn.execute(
            select(partition_checkpoints.c.part, partition_checkpoints.c.seq).where(
                partition_checkpoints.c.stream == stream
            )
        ).all()
    return {r.part: r.seq for r in rows if r.seq}


async def partition_ends(servers: str, layout: Layout) -> dict[int, int]:
    """Each partition's last message in the stored stream (its stream sequence): the last
    message of each subject (a site's sensor), the newest of each partition's."""
    nc = await nats.connect(servers.split(","))
    try:
        js = nc.jetstream()
        for attempt in range(20):  # a loaded cluster may not answer a consumer's first fetch
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
                ack_policy=AckPolicy.NONE,
                num_replicas=1,
                mem_storage=True,
                inactive_threshold=30,
            )
            sub = await js.pull_subscribe(
                f"{layout.name}.s.>", durable=None, stream=layout.stored_stream, config=config
            )
            ends: dict[int, int] = {}
            try:
                while True:
                    for m in await sub.fetch(1000, timeout=2):
                        part = int(m.subject.split(".")[2])
                        ends[part] = max(ends.get(part, 0), m.metadata.sequence.stream)
            except TimeoutError:
                return ends  # every subject's last read
            except nats.js.errors.ServiceUnavailableError:
                await asyncio.sleep(0.5 * (attempt + 1))
            finally:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        raise RuntimeError(f"{layout.stored_stream}: its last messages not readable")
    finally:
        await nc.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM a process we started, by its PID; SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def report(runs: list[Run], sensors: int, partitions: int) -> None:
    base = next(r for r in runs if r.what == "one linli serve")
    print(
        f"\nmachine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average {load_avg()} at the end"
    )
    print(
        f"{base.readings:,} single-reading QoS 1 messages of {sensors:,} sensors, rules on; "
        f"3 NATS nodes, {partitions} partitions; PostgreSQL case stores"
    )
    print("| workers | readings | seconds | readings/s | ratio to one linli serve |")
    print("| --- | --- | --- | --- | --- |")
    for r in runs:
        print(
            f"| {r.what} | {r.readings:,} | {r.seconds:.1f} | {r.per_s:,.0f} | "
            f"{r.per_s / base.per_s:.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensors", type=int, default=1_000)
    parser.add_argument("--readings", type=int, default=60_000)
    parser.add_argument("--workers", default="1,2,4", help="a comma list of worker counts")
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]

    work = Path(tempfile.mkdtemp(prefix="linli-bench-cluster-"))
    config = work / "community.toml"
    config.write_text(community_toml(args.sensors))
    messages = _messages(args.readings, args.sensors)
    print(f"load average at the start: {load_avg()}", flush=True)
    bench = Bench(work, config, args.partitions)
    runs: list[Run] = []
    try:
        runs.append(bench.single(messages))
        print(f"one linli serve: {runs[-1].per_s:,.0f} readings/s", flush=True)
        for n in counts:
            runs.append(bench.cluster(n, messages))
            print(f"{n} + {n} workers: {runs[-1].per_s:,.0f} readings/s", flush=True)
    except Exception:
        print(f"logs kept in {work}", file=sys.stderr)
        raise
    finally:
        bench.stop()
    report(runs, args.sensors, args.partitions)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
