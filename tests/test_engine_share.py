"""An engine owning a share (CONTRACT §12): partitions of sites gained and lost, each batch
committed with its partition's checkpoint, on SQLite and PostgreSQL with a real influxd.

Ingest stores a reading in InfluxDB before it is published by site, so every reading of a
batch is in InfluxDB already when the engine gets it (the tests store them all first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.rules.case import Level
from linli.rules.engine.engine import OWNS_NOTHING, Engine
from linli.rules.engine.telling import OutboxTeller
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SensorTags, SiteKind, Zone
from linli.rules.routing import Audience, ChannelType, Directory
from linli.store import Database, GridRecord, SiteRecord
from linli.store.partitions import Claim, StaleOwner, claim
from linli.store.tables import deliveries
from tests.helpers import builder_for

MIN = 60_000
DAYS = 3 * 86_400
STREAM = "sites"
POLICY = RulePolicy(offline_periods=100_000)
SITES = {"hj-b1": 0, "rest-1": 1}  # the partition of each site
WANG = Contact("王丽", channels={"ding": "13800000001"})


def part_of(part: int) -> Callable[[str], bool]:
    """The sites of one partition (the cluster's hash in production)."""
    return lambda site: SITES.get(site) == part


def fill(db: Database) -> Database:
    db.create_grid(GridRecord("g1", "东网格"))
    db.create_site(SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_site(
        SiteRecord("rest-1", "面馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=Merchant("周"))
    )
    db.create_sensor(Sensor("n-01", SensorKind.NOISE, "hj-b1"))
    db.create_sensor(Sensor("f-01", SensorKind.FUME, "rest-1"))
    return db


def teller() -> OutboxTeller:
    """The outbox: every level of both sites told on one robot."""
    directory = Directory(
        channels={"ding": ChannelType.DINGTALK},
        audiences={
            (site, level): Audience(level, "东网格", (WANG,), ("ding",))
            for site in SITES
            for level in Level
        },
    )
    names = {"hj-b1": "红街公寓1幢", "rest-1": "面馆"}
    return OutboxTeller(lambda: directory, lambda: names, "http://x", ZoneInfo("Asia/Shanghai"))


# last night, local time: a loud night at the building, a smoky evening at the restaurant
T0 = (int(time.time()) // 86_400 - 1) * 86_400 * 1000 + 14 * 3_600_000  # 22:00 in UTC+8
NOISE = [
    Reading("n-01", SensorKind.NOISE, T0 + (i + 1) * MIN, i + 1, 60,
            {"laeq": 56.0 if i < 12 or i >= 28 else 40.0, "l90": 40 + i % 5 * 0.1})
    for i in range(40)
]  # fmt: skip
FUME = [
    Reading("f-01", SensorKind.FUME, T0 - 4 * 3_600_000 + (i + 1) * MIN, i + 1, 60,
            {"oil_fume": 2.6 + i % 3 * 0.01, "fan_on": True, "purifier_on": True,
             "purifier_current": 2.0})
    for i in range(40)
]  # fmt: skip
NOW = T0 + 3 * 3_600_000


def batches(readings: Sequence[Reading], size: int) -> list[tuple[int, list[Reading]]]:
    """A partition's stream in batches: each with its last stream sequence."""
    return [(i + size, list(readings[i : i + size])) for i in range(0, len(readings), size)]


TAGS = {
    "n-01": SensorTags("n-01", SensorKind.NOISE, "hj-b1", "g1", Zone.Z2),
    "f-01": SensorTags("f-01", SensorKind.FUME, "rest-1", "g1", Zone.Z2),
}


def store(influx: InfluxClient, readings: Sequence[Reading]) -> list[Reading]:
    """What ingest does before publishing readings by site: store them in InfluxDB."""
    builder = builder_for(*TAGS.values())
    influx.write("\n".join(builder.reading(r, TAGS[r.sensor]) for r in readings).encode())
    return list(readings)


@pytest.fixture
def influx(influx_url: str, influx_db: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influx_url, influx_db)
    client.ensure_database("400d")
    yield client
    client.close()


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = fill(Database(store_url))
    yield database
    database.close()


def engine(db: Database, influx: InfluxClient, **kw: Any) -> Engine:
    return Engine(
        db, POLICY, history=InfluxHistory(influx), replay_s=DAYS, clock=lambda: NOW,
        tellers=[teller()], checkpoint_s=3600, **kw,
    )  # fmt: skip


def cases(db: Database) -> list[tuple[Any, ...]]:
    """Every case with its occurrences' windows and its timeline's actions."""
    with db.cases() as tx:
        found, _ = tx.list_cases()
        out = []
        for c in found:
            assert c.id is not None
            d = tx.detail(c.id)
            windows = [(o.sensor, o.start_ms, o.end_ms) for o in d.occurrences]
            actions = [e.action.value for e in d.timeline]
            out.append((c.site, c.rule, c.state.value, c.level.value, windows, actions))
        return sorted(out)


def outbox(db: Database) -> int:
    with db.cases() as tx:
        return int(tx.conn.execute(select(func.count()).select_from(deliveries)).scalar_one())


def reference(tmp_path: Path, influx: InfluxClient) -> tuple[list[tuple[Any, ...]], int]:
    """One engine judging everything, in the same batches, on a store of its own."""
    db = fill(Database(f"sqlite:///{tmp_path}/reference.db"))
    one = engine(db, influx)
    for (_, noise), (_, fume) in zip(batches(NOISE, 4), batches(FUME, 4), strict=True):
        one.process(noise + fume, NOW)
    found = cases(db), outbox(db)
    db.close()
    return found


def test_a_batch_delivered_again_after_its_commit_opens_nothing_twice(
    db: Database, store_url: str, influx: InfluxClient
) -> None:
    a = engine(db, influx, owns=OWNS_NOTHING)
    assert a.gain(claim(db, STREAM, 0, "engine-a"), part_of(0)) == 0
    stream = batches(NOISE, 4)
    for seq, batch in stream[:3]:  # the case opens with the 8th reading
        assert a.process(store(influx, batch), NOW, part=0, seq=seq)
    opened = cases(db)
    assert [c[:3] for c in opened] == [("hj-b1", "noise_leq", "open")]
    told = outbox(db)
    assert told >= 1
    # the third batch committed, then the worker died before its ack: delivered again,
    # to the same engine (a redelivery) and to a new one after a restart
    assert a.process(stream[2][1], NOW, part=0, seq=12) is False
    again = Database(store_url)
    b = engine(again, influx, owns=OWNS_NOTHING)
    held = claim(again, STREAM, 0, "engine-b")
    assert held == Claim(STREAM, 0, 2, 12)
    # the rule state was saved with every checkpoint (the 12th reading): nothing to judge
    # again at the gain, the stream goes on after the checkpoint
    assert b.gain(held, part_of(0)) == 0
    assert b.process(stream[2][1], NOW, part=0, seq=12) is False
    assert b.skipped == 4
    for seq, batch in stream[3:]:
        b.process(store(influx, batch), NOW, part=0, seq=seq)
    ((site, rule, state, _, windows, actions),) = cases(again)
    assert (site, rule, state, actions) == ("hj-b1", "noise_leq", "open", ["open", "occur"])
    assert windows[0][:2] == opened[0][4][0][:2] and len(windows) == 2  # two episodes
    with again.cases() as tx:
        events = tx.conn.execute(select(deliveries.c.event)).scalars().all()
    assert events.count("case.opened") == 1 == told
    assert b.claims() == {0: Claim(STREAM, 0, 2, 40)}
    again.close()


def test_a_partition_moving_mid_scenario_gives_the_cases_of_one_engine(
    db: Database, store_url: str, influx: InfluxClient, tmp_path: Path
) -> None:
    expected, expected_told = reference(tmp_path, influx)
    assert [c[:2] for c in expected] == [("hj-b1", "noise_leq"), ("rest-1", "fume_conc")]
    noise, fume = batches(NOISE, 4), batches(FUME, 4)
    a = engine(db, influx, owns=OWNS_NOTHING)
    a.gain(claim(db, STREAM, 0, "engine-a"), part_of(0))
    a.gain(claim(db, STREAM, 1, "engine-a"), part_of(1))
    for (n_seq, n), (f_seq, f) in zip(noise[:5], fume[:5], strict=True):
        a.process(store(influx, n), NOW, part=0, seq=n_seq)
        a.process(store(influx, f), NOW, part=1, seq=f_seq)
    # ingest stored the next noise batch; engine B takes partition 0 before A judged it,
    # from A's state saved with its last checkpoint (the 20th reading): the 21st to the
    # 24th, stored, are judged from the stream (after the checkpoint), not at the gain
    store(influx, noise[5][1])
    other = Database(store_url)
    b = engine(other, influx, owns=OWNS_NOTHING)
    assert b.gain(claim(other, STREAM, 0, "engine-b"), part_of(0)) == 0
    # A's next batch of it commits nothing
    before = cases(db), outbox(db)
    with pytest.raises(StaleOwner, match="partition sites/0: epoch 1 at seq 20"):
        a.process(noise[5][1], NOW, part=0, seq=noise[5][0])
    assert (cases(db), outbox(db)) == before
    assert set(a.claims()) == {1}  # A dropped partition 0
    assert a.process(noise[6][1], NOW) is True and a.foreign == 4  # not its sites: ignored
    # B takes partition 1 too: A's tick (escalation, silence) may no longer commit either
    b.gain(claim(other, STREAM, 1, "engine-b"), part_of(1))
    with pytest.raises(StaleOwner, match="partition sites/1"):
        a.tick(NOW)
    assert a.claims() == {} and (cases(db), outbox(db)) == before
    for seq, n in noise[5:]:
        b.process(store(influx, n), NOW, part=0, seq=seq)
    for seq, f in fume[5:]:
        b.process(store(influx, f), NOW, part=1, seq=seq)
    assert cases(other) == expected
    assert outbox(other) == expected_told
    other.close()
