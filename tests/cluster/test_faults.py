"""linli on the 3-node NATS cluster under faults (CONTRACT §12): real processes, a
scripted fleet, and the same cases as one `linli serve`.

`python -m linli ingest` and `python -m linli engine` workers (two of each, then a third
engine joining) on PostgreSQL and InfluxDB, the firmware simulator publishing a
scripted half hour of a street's evening to one node's MQTT listener, and on the way:
an engine exiting right after a commit and before its acknowledgement, an ingest worker
exiting right after an InfluxDB write and before handing on or acknowledging (the test
hooks of linli/clustering.py), a `kill -9` of a worker and its restart, a worker joining
and one NATS node killed and started again. Then every reading the simulator had
PUBACKed is in InfluxDB once, in the stored stream once and judged (every engine
checkpoint at its partition's end), no sensor judged out of order, and the cases are
those of one `linli serve` on mosquitto given the same scenario, each opened once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import nats
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import func, select

from linli.cluster import codec
from linli.clustering import CRASH_AFTER_COMMIT, CRASH_AFTER_STORE, CRASHED, layout_of
from linli.community import apply_street, load_street
from linli.influx.client import InfluxClient
from linli.localservers import free_port, spawn_logged
from linli.natsservers import NatsCluster
from linli.rules.partitions import partition_of, site_partition
from linli.rules.reading import Reading
from linli.settings import Settings
from linli.sim.device import Kind, SensorSpec
from linli.sim.fleet import Fleet
from linli.sim.options import PER_DEVICE, Counters, FleetOptions
from linli.sim.scenario import parse_scenario
from linli.store import Database
from linli.store.tables import occurrences, partition_checkpoints, timeline
from tests.helpers import WAIT_S, settings_for, wait_for
from tests.pg import Postgres

pytestmark = pytest.mark.slow

TZ = ZoneInfo("Asia/Shanghai")
PERIOD_S = 5
DURATION_S = 1800  # half an hour of the evening: 360 readings a sensor
PARTITIONS = 4

# Silence is judged at the wall clock's time (rules/judge.py judge_silence): a fault's stall
# of the pipeline (a worker killed, a node's death; tens of seconds on a loaded machine)
# is as long as 5 of these 5 s periods, and would open and close a `device_offline` case
# the single run never saw. The test's devices get a silence longer than the test; the
# cases compared are the readings' (docs/cluster.md: what a stall looks like).
COMMUNITY = """
[community]
name = "故障社区"

[rules]
offline_periods = 120

[[grid]]
id = "g1"
name = "一网格"

[[site]]
id = "ktv-3"
name = "欢唱KTV"
kind = "shop"
category = "ktv"
profile = "ktv"
zone = "2"
grid = "g1"
merchant = { name = "KTV 老板" }

[[site]]
id = "bbq-1"
name = "夜市烧烤"
kind = "shop"
category = "restaurant"
profile = "bbq"
zone = "2"
grid = "g1"
cooking_heads = 3
merchant = { name = "烧烤老板" }

[[site]]
id = "bbq-4"
name = "老街烧烤"
kind = "shop"
category = "restaurant"
profile = "bbq"
zone = "2"
grid = "g1"
cooking_heads = 2
merchant = { name = "老街老板" }

[[site]]
id = "res-1"
name = "红街公寓3幢"
kind = "residential"
category = "residential"
profile = "residential"
zone = "2"
grid = "g1"

[[sensor]]
id = "n-ktv"
kind = "noise"
site = "ktv-3"

[[sensor]]
id = "n-bbq"
kind = "noise"
site = "bbq-1"

[[sensor]]
id = "n-res2"
kind = "noise"
site = "res-1"

[[sensor]]
id = "f-bbq1"
kind = "fume"
site = "bbq-1"

[[sensor]]
id = "f-bbq4"
kind = "fume"
site = "bbq-4"
"""

# Named so that each of the 4 partitions holds a sensor (n-res2 0, f-bbq4 1, f-bbq1 2,
# n-ktv and n-bbq 3) and a site (ktv-3 0, bbq-4 1, bbq-1 2, res-1 3): every worker that owns
# a partition has work, and each crash hook below is reached whatever its worker owns.
SENSORS = [
    SensorSpec("n-ktv", Kind.NOISE, "ktv"),
    SensorSpec("n-bbq", Kind.NOISE, "bbq"),
    SensorSpec("n-res2", Kind.NOISE, "residential"),
    SensorSpec("f-bbq1", Kind.FUME, "bbq"),
    SensorSpec("f-bbq4", Kind.FUME, "bbq"),
]

# 21:50 on: the KTV loud into the night, one barbecue's fume over the limit, the other's
# purifier left off
SCENARIO = {
    "event": [
        {"sensor": "n-ktv", "type": "noise", "at": "5m", "for": "20m", "set_db": 72},
        {"sensor": "f-bbq1", "type": "fume", "at": "2m", "for": "20m", "set_mg_m3": 4.5},
        {"sensor": "f-bbq4", "type": "purifier_off", "at": "4m", "for": "15m"},
    ]
}


def evening_start() -> int:
    """Epoch seconds of 21:50 local yesterday."""
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=21, minute=50, second=0, microsecond=0).timestamp())


def run_fleet(mqtt_url: str, prefix: str, speed: float, start_s: int) -> Fleet:
    """The scripted fleet, ready to `run`: the same readings, values too, for the same
    start. The simulator draws its randomness a chunk of simulated time at a time, and cuts
    a chunk where real time has got to; a chunk of one simulated second (`chunk_readings`
    1 for these 5 sensors' one reading a second) makes every cut the same in both runs,
    whatever the speed and the machine's load."""
    options = FleetOptions(
        mqtt_url=mqtt_url, prefix=prefix, period_s=PERIOD_S, speed=speed, start_s=start_s,
        duration_s=DURATION_S, connections=PER_DEVICE, health_every_s=0, seed=11,
        drain_timeout_real_s=60.0, chunk_readings=1,
    )  # fmt: skip
    return Fleet(SENSORS, options, parse_scenario(SCENARIO))


def assert_all_acked(counters: Counters) -> None:
    assert counters.readings == len(SENSORS) * DURATION_S // PERIOD_S
    assert (counters.acked, counters.buffered, counters.dropped) == (counters.messages, 0, 0)


def stored(influx: InfluxClient) -> dict[str, list[tuple[int, int]]]:
    """Each sensor's stored (seq, ts) in time order."""
    out: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for series in influx.query('SELECT "seq" FROM "noise", "fume" GROUP BY "sensor"'):
        sensor = series.tags["sensor"] if series.tags else ""
        out[sensor] += [(int(seq), int(ts)) for ts, seq in series.values]
    return {s: sorted(v, key=lambda x: x[1]) for s, v in out.items()}


def values(influx: InfluxClient) -> dict[str, list[tuple[Any, ...]]]:
    """Each sensor's stored values that the rules judge, in time order."""
    q = 'SELECT "laeq", "lamax", "oil_fume", "fan_on", "purifier_on" FROM "noise", "fume" GROUP BY "sensor"'
    out: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for series in influx.query(q):
        sensor = series.tags["sensor"] if series.tags else ""
        out[sensor] += [tuple(row) for row in series.values]
    return {s: sorted(v, key=lambda row: row[0]) for s, v in out.items()}


def stored_count(influx: InfluxClient) -> int:
    return sum(len(v) for v in stored(influx).values())


def judged_to(db: Database) -> dict[str, int | None]:
    """Each sensor's watermark in the saved rule state: the newest reading it judged."""
    with db.cases() as tx:
        return {s: st.watermark_ms for s, st in tx.load_states().items()}


def cases_of(db: Database) -> list[tuple[Any, ...]]:
    """Each case's site, rule, state and occurrence windows, and its `open` entries."""
    with db.partitions() as conn:
        opens = Counter(
            r.case_id
            for r in conn.execute(select(timeline.c.case_id).where(timeline.c.action == "open"))
        )
        windows: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for r in conn.execute(select(occurrences).order_by(occurrences.c.id)):
            windows[r.case_id].append((r.sensor, r.start_ms, r.end_ms))
    with db.cases() as tx:
        found, _ = tx.list_cases()
    return sorted(
        (c.site, c.rule, c.state.value, window_of(c.rule, windows[c.id or 0]), opens[c.id or 0])
        for c in found
    )


def comparable(cases: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The cases to compare with the single run's: the readings' (every rule but
    `device_offline`, compared by `offline_sensors`).

    A node's death drops the devices' MQTT connections: their last wills say offline
    (CONTRACT §2), stamped with the wall clock's time, and they are back at once with a
    status stamped with the fleet's clock, yesterday evening. That opens and closes
    `device_offline` cases the single run on mosquitto never had, and under load the case
    open at the end held one sensor of a site where the single run's held two: true to
    what the cluster's devices went through, not the same cases."""
    return [c for c in cases if c[1] != "device_offline"]


def offline_sensors(cases: list[tuple[Any, ...]]) -> set[str]:
    """Every sensor some `device_offline` case holds, open or closed."""
    return {s for c in cases if c[1] == "device_offline" for s in c[3]}


def window_of(rule: str, windows: list[tuple[str, int, int]]) -> list[Any]:
    """The occurrences to compare: a silence's sensors only (the tick notices it at the
    wall clock's time, in both runs after the half hour of yesterday's readings), every
    other rule's windows exactly (the readings' times)."""
    if rule == "device_offline":
        return sorted({sensor for sensor, _, _ in windows})
    return sorted(windows)


def settled(db: Database) -> list[tuple[Any, ...]]:
    """The cases once two looks a few engine ticks apart agree."""
    seen = [cases_of(db)]

    def same() -> bool:
        time.sleep(1.5)
        seen.append(cases_of(db))
        return seen[-1] == seen[-2]

    wait_for(same)
    return seen[-1]


class Worker:
    """One `python -m linli ...` process we started, by its PID; restartable."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **extra: str) -> Worker:
        argv = [sys.executable, "-m", "linli", *self.args]
        self.proc = spawn_logged(argv, self.log, {**self.env, **extra})
        self.starts += 1
        return self

    def crashed(self) -> bool:
        """Exited by a test hook (restart it)."""
        return self.proc is not None and self.proc.poll() == CRASHED

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def kill9_and_restart(self) -> None:
        self.kill9()
        self.start()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def base_env(settings: Settings, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    return {
        **env,
        "LINLI_MQTT_URL": settings.mqtt_url,
        "LINLI_INFLUX_URL": settings.influx_url,
        "LINLI_INFLUX_DB": settings.influx_db,
        "LINLI_DB_URL": db_url,
        "LINLI_TOPIC_PREFIX": settings.topic_prefix,
        "LINLI_BATCH_MAX_AGE_MS": "50",
        "LINLI_ENGINE_TICK_S": "0.5",
        "LINLI_REGISTRY_REFRESH_S": "1",
    }


def streams_state(servers: str, settings: Settings) -> dict[str, Any]:
    """For a failure's message: each stream's messages, last seq, messages per partition and
    its sources' lag."""
    layout = layout_of(settings)

    async def read() -> dict[str, Any]:
        nc = await nats.connect(servers.split(","))
        try:
            js = nc.jetstream()
            out: dict[str, Any] = {}
            for name in (layout.readings_stream, layout.stored_stream):
                info = await js.stream_info(name, subjects_filter=">")
                per_part: Counter[str] = Counter()
                for subject, n in (info.state.subjects or {}).items():
                    per_part[subject.split(".")[2]] += n
                out[name] = {
                    "messages": info.state.messages,
                    "last_seq": info.state.last_seq,
                    "per_partition": dict(sorted(per_part.items())),
                    "sources": [(x.name, x.lag, x.active) for x in info.sources or []],
                }
            return out
        finally:
            await nc.close()

    try:
        return asyncio.run(read())
    except Exception as err:  # the message says what it could
        return {"error": repr(err)}


def stored_stream(servers: str, settings: Settings) -> list[tuple[int, str, Any]]:
    """Every message of the stored stream: (stream seq, subject, the decoded item)."""
    layout = layout_of(settings)

    async def read() -> list[tuple[int, str, Any]]:
        nc = await nats.connect(servers.split(","))
        try:
            js = nc.jetstream()
            config = ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                num_replicas=1,
                mem_storage=True,
                inactive_threshold=30,
            )
            sub = await js.pull_subscribe(
                f"{layout.name}.s.>", durable=None, stream=layout.stored_stream, config=config
            )
            last = (await js.stream_info(layout.stored_stream)).state.last_seq
            out: list[tuple[int, str, Any]] = []
            while not out or out[-1][0] < last:
                for m in await sub.fetch(1000, timeout=WAIT_S):
                    out.append((m.metadata.sequence.stream, m.subject, codec.decode(m.data)))
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def test_the_cluster_under_faults_judges_as_one_linli(
    nats_servers: NatsCluster,
    nats_name: str,
    mqtt_url: str,
    influx_url: str,
    influx_db: str,
    postgres: Postgres,
    tmp_path: Path,
):
    prefix = f"{nats_name}/v1"
    community = tmp_path / "community.toml"
    community.write_text(COMMUNITY)
    street = load_street([community])
    start_s = evening_start()

    # -- one `linli serve` on mosquitto: the cases to compare with ------------------------
    single = settings_for(mqtt_url, influx_url, influx_db, prefix, tmp_path)
    single_url = postgres.create_db(f"{nats_name}_single")
    sdb = Database(single_url)
    apply_street(sdb, street)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    serve_env = {
        **base_env(single, single_url),
        "LINLI_API_ADDR": f"127.0.0.1:{free_port()}",
        "LINLI_SPOOL_DIR": str(tmp_path / "single-spool"),
        "LINLI_MQTT_CLIENT_ID": f"linli-{nats_name}",
    }
    serve = Worker("serve", ["serve"], serve_env, tmp_path / "serve.log").start()
    try:
        wait_for(lambda: "subscribed" in serve.text() and "taking batches" in serve.text())
        fleet = run_fleet(mqtt_url, prefix, 900.0, start_s)
        assert_all_acked(fleet.run())
        total = fleet.counters().readings
        wait_for(lambda: stored_count(influx) == total)
        expected_stored = stored(influx)
        expected_values = values(influx)
        last_ts = {s: v[-1][1] for s, v in expected_stored.items()}
        wait_for(lambda: judged_to(sdb) == last_ts)
        single_cases = settled(sdb)
        expected = comparable(single_cases)
    finally:
        serve.stop()
    assert "out of order" not in serve.text()
    assert {c[1] for c in expected} >= {"noise_leq", "fume_conc", "purifier_off"}, expected
    assert all(c[4] == 1 for c in expected)  # the single linli opened each once

    # -- the cluster: 3 NATS nodes, 2 + 2 workers, PostgreSQL -----------------------------
    cdb_name = f"{influx_db}_c"
    settings = settings_for(
        nats_servers.nodes[0].mqtt_url,
        influx_url,
        cdb_name,
        prefix,
        tmp_path,
        nats_url=nats_servers.url,
        nats_name=nats_name,
        nats_partitions=PARTITIONS,
    )
    cluster_url = postgres.create_db(f"{nats_name}_cluster")
    cdb = Database(cluster_url)
    apply_street(cdb, street)
    cinflux = InfluxClient(influx_url, cdb_name)
    cinflux.ensure_database("400d")
    env = {
        **base_env(settings, cluster_url),
        "LINLI_NATS_URL": nats_servers.url,
        "LINLI_NATS_NAME": nats_name,
        "LINLI_NATS_PARTITIONS": str(PARTITIONS),
        "LINLI_NATS_MEMBER_TTL_S": "2",
    }
    setup = subprocess.run(
        [sys.executable, "-m", "linli", "nats", "setup"],
        env=env,
        capture_output=True,
        timeout=WAIT_S,
    )
    assert setup.returncode == 0, setup.stderr.decode()

    def worker(role: str, i: int) -> Worker:
        own = {**env, "LINLI_SPOOL_DIR": str(tmp_path / f"spool-{role}-{i}")}
        return Worker(f"{role}-{i}", [role], own, tmp_path / f"{role}-{i}.log")

    assert {partition_of(s.id, PARTITIONS) for s in SENSORS} == set(range(PARTITIONS))
    sites = {s.id for s in street.merged().site_records()}
    assert {site_partition(s, PARTITIONS) for s in sites} == set(range(PARTITIONS))
    ingests = [worker("ingest", i) for i in range(2)]
    engines = [worker("engine", i) for i in range(3)]
    layout = layout_of(settings)

    def owners(stream: str) -> set[str]:
        with cdb.partitions() as conn:
            rows = conn.execute(
                select(partition_checkpoints.c.owner).where(
                    partition_checkpoints.c.stream == stream
                )
            ).all()
        return {r.owner for r in rows} if len(rows) == PARTITIONS else set()

    # at the first store and the fifth commit: a loaded machine stores and judges in fewer,
    # larger batches, and a worker's share can move before a later count is reached
    ingests[0].start(**{CRASH_AFTER_STORE: "1"})
    ingests[1].start()
    engines[0].start(**{CRASH_AFTER_COMMIT: "5"})
    engines[1].start()
    killed_node = False
    try:
        wait_for(lambda: len(owners(layout.readings_stream)) == 2)
        wait_for(lambda: len(owners(layout.stored_stream)) == 2)
        fleet = run_fleet(nats_servers.nodes[0].mqtt_url, prefix, 60.0, start_s)
        counters: list[Counters] = []
        publishing = threading.Thread(target=lambda: counters.append(fleet.run()), daemon=True)
        publishing.start()
        faults = [
            (0.25, ingests[1].kill9_and_restart),  # kill -9, restart
            (0.40, lambda: engines[2].start()),  # a worker joining
            (0.55, engines[1].kill9_and_restart),
            (0.65, lambda: nats_servers.kill(2)),  # a node's death
            (0.85, lambda: nats_servers.restart(2)),
        ]
        deadline = time.monotonic() + WAIT_S
        while publishing.is_alive() or faults:
            assert time.monotonic() < deadline, "the fleet did not finish"
            for w in (*ingests, *engines):
                if w.crashed():  # a test hook's crash: started again, hook off
                    w.start()
            done = fleet.counters().acked / (total or 1)
            while faults and (done >= faults[0][0] or not publishing.is_alive()):
                _, fault = faults.pop(0)
                fault()
                killed_node = killed_node or not nats_servers.nodes[2].running
            time.sleep(0.1)
        publishing.join(WAIT_S)
        assert_all_acked(counters[0])

        # every reading the fleet had acknowledged stored once, in order, the same as one
        # linli stored
        try:
            wait_for(lambda: stored_count(cinflux) == total)
        except AssertionError:
            got = {s: len(v) for s, v in stored(cinflux).items()}
            want = {s: len(v) for s, v in expected_stored.items()}
            with cdb.partitions() as conn:
                marks = conn.execute(select(partition_checkpoints)).all()
            raise AssertionError(
                f"stored {got}, expected {want}; checkpoints {[tuple(m) for m in marks]}; "
                f"streams {streams_state(nats_servers.url, settings)}"
            ) from None
        assert stored(cinflux) == expected_stored
        assert values(cinflux) == expected_values  # the same readings: the same cases due
        # ...handed on once each (the stored stream dropped what a worker published again)
        messages = stored_stream(nats_servers.url, settings)
        readings = [(sub, item) for _, sub, item in messages if isinstance(item, Reading)]
        by_sensor: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for _, r in readings:
            by_sensor[r.sensor].append((r.seq, r.ts_ms))
        assert dict(by_sensor) == expected_stored  # each once, in each sensor's order
        # ...and judged: every engine checkpoint at its partition's last message
        last_of: dict[int, int] = {}
        for seq, subject, _ in messages:
            part = int(subject.split(".")[2])
            last_of[part] = max(last_of.get(part, 0), seq)

        def checkpoints() -> dict[int, int]:
            with cdb.partitions() as conn:
                rows = conn.execute(
                    select(partition_checkpoints.c.part, partition_checkpoints.c.seq).where(
                        partition_checkpoints.c.stream == layout.stored_stream
                    )
                ).all()
            return {r.part: r.seq for r in rows if r.part in last_of}

        wait_for(lambda: checkpoints() == last_of)
        wait_for(lambda: judged_to(cdb) == last_ts)
        with contextlib.suppress(AssertionError):  # the ticks' escalations may lag
            wait_for(lambda: comparable(cases_of(cdb)) == expected, 30)
        assert comparable(cases_of(cdb)) == expected
    finally:
        for w in (*ingests, *engines):
            w.stop()
        if not nats_servers.nodes[2].running:
            nats_servers.restart(2)
        with cdb.partitions() as conn:  # how much the faults replayed, for the log
            n = conn.execute(select(func.count()).select_from(partition_checkpoints)).scalar()
        print(f"checkpoints: {n}; starts:", {w.name: w.starts for w in (*ingests, *engines)})
        cinflux.query(f'DROP DATABASE "{cdb_name}"')
    logs = "".join(w.text() for w in (*ingests, *engines))
    # the faults happened: both hooks fired, the node died
    assert f"{CRASH_AFTER_STORE}: exiting" in ingests[0].text()
    assert f"{CRASH_AFTER_COMMIT}: exiting" in engines[0].text()
    assert killed_node
    assert "out of order" not in logs  # no sensor judged out of order
    assert comparable(cases_of(cdb)) == expected  # the same cases, each opened once
    # every sensor the single run found offline (its silence after the fleet's half hour),
    # the cluster found offline too
    assert offline_sensors(single_cases) <= offline_sensors(cases_of(cdb))
