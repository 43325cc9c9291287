"""Through real MQTT and InfluxDB: nothing accepted is set aside
silently, and stored evidence is never overwritten, right away or after a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.community import apply_community, load_community
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.rules.constants import F_COUNT, M_REJECTED, TAG_REASON, TAG_SENSOR
from linli.rules.reading import DeviceStatus, Reading
from linli.settings import Settings
from linli.store import Database
from linli.wiring import api_config
from tests.helpers import WAIT_S, Publisher, count, noise, settings_for, wait_for

CONFIG = Path(__file__).parent.parent / "data" / "small.toml"
AUTH = {"Authorization": "Bearer t-admin-token-0123"}
WEEK_MS = 7 * 86_400_000  # InfluxDB's shard group for a 400-day policy


@dataclass
class World:
    settings: Settings
    db: Database
    influx: InfluxClient
    pub: Publisher
    api: TestClient
    handed: list[Reading | DeviceStatus]

    def ingest(self) -> Ingest:
        return Ingest(
            self.settings,
            self.db,
            self.db,
            self.influx,
            on_stored=self.handed.extend,
            seq_grace_ms=0,
            account_every_ms=0,
        ).start(wait_subscribed_s=WAIT_S)

    def topic(self, sensor: str, channel: str = "telemetry") -> str:
        return f"{self.settings.topic_prefix}/{sensor}/{channel}"

    def rejected(self, reason: str) -> list[dict[str, Any]]:
        """The records of `reason`, each with its message's payload beside it."""
        page = self.api.get("/api/v1/rejected", params={"reason": reason}, headers=AUTH).json()
        heads = {m["id"]: m for m in page["messages"]}
        items = [{**i, "payload": heads[i["message"]]["payload"]} for i in page["items"]]
        return sorted(items, key=lambda i: i["id"])

    def counted(self) -> dict[tuple[str, str], int]:
        rows = self.influx.query(
            f'SELECT sum("{F_COUNT}") FROM "{M_REJECTED}" GROUP BY "{TAG_SENSOR}", "{TAG_REASON}"'
        )
        return {(s.tags[TAG_SENSOR], s.tags[TAG_REASON]): s.values[0][1] for s in rows}


@pytest.fixture
def world(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path) -> Iterator[World]:
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, admin_token="t-admin-token-0123"
    )
    db = Database(settings.db_url)
    apply_community(db, load_community(CONFIG))
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    pub = Publisher(mqtt_url, f"pub-ev-{topic_prefix.split('/')[0]}")
    api = TestClient(create_app(api_config(settings), db, influx, lambda: True))
    yield World(settings, db, influx, pub, api, [])
    pub.close()
    influx.close()
    db.close()


def _recent_ms() -> int:
    """A minute ago, moved into the current shard group so that a field's type there holds."""
    now = int(time.time() * 1000)
    return max(now - 60_000, now // WEEK_MS * WEEK_MS)


def test_unstorable_values_are_rejected_and_the_rest_of_their_batch_stored(world: World):
    t = _recent_ms()
    # a point of another series made l90 an integer field in this shard: InfluxDB refuses
    # any float l90 here ("field type conflict"), which no parser bound could foresee
    world.influx.write(f"noise,sensor=n-20 l90=1i {t}\n".encode())
    ingest = world.ingest()
    huge_seq = {"batch": [noise(t + 1000, 1), noise(t + 2000, 2**64 - 1), noise(t + 3000, 3)]}
    refused = {"batch": [noise(t + 4000, 4), noise(t + 5000, 5, l90=40.0), noise(t + 6000, 6)]}
    try:
        world.pub.send(world.topic("n-01"), huge_seq)
        world.pub.send(world.topic("n-01", "health"), b'{"ts": %d, "uptime_s": 1e300}' % t)
        world.pub.send(world.topic("n-02"), refused)
        wait_for(lambda: ingest.source.acked == 3)
        out_of_range = world.rejected("out_of_range")
        assert [(i["sensor"], i["index"], i["detail"]) for i in out_of_range] == [
            (
                "n-01",
                1,
                "batch[1]: sensor 'n-01': seq 18446744073709551615 outside "
                "0–9223372036854775807 (InfluxDB stores int64)",
            ),
            ("n-01", None, "sensor 'n-01': health uptime_s 1e+300 outside 0–9.22337e+18"),
        ]
        (not_storable,) = world.rejected("not_storable")
        assert (not_storable["sensor"], not_storable["topic"]) == ("n-02", world.topic("n-02"))
        assert orjson.loads(not_storable["payload"]) == refused  # its message, kept whole
        assert not_storable["detail"].startswith("InfluxDB refused the point 'noise,")
        assert (
            'field type conflict: input field "l90" on measurement "noise" is type float, '
            "already exists as type integer" in not_storable["detail"]
        )
        # the rest of each batch is stored
        rows = world.influx.query(
            "SELECT seq FROM noise WHERE sensor = 'n-01' OR sensor = 'n-02' GROUP BY sensor"
        )
        stored = {s.tags["sensor"]: [v[1] for v in s.values] for s in rows}
        assert stored == {"n-01": [1, 3], "n-02": [4, 6]}
        # counted per sensor and reason, and nothing only in a folder
        assert world.counted() == {("n-01", "out_of_range"): 2, ("n-02", "not_storable"): 1}
        assert ingest.writer.stats.refused_points == 1
        assert not list((world.settings.spool_dir / "failed").iterdir())
        spool = world.api.get("/api/v1/health", headers=AUTH).json()["spool"]
        assert (spool["ok"], spool["waiting"], spool["failed"]) == (True, 0, 0)
        assert world.api.get("/api/v1/spool/failed", headers=AUTH).json() == []
        # the engine was not handed the refused reading
        assert sorted(r.seq for r in world.handed if isinstance(r, Reading)) == [1, 3, 4, 6]
    finally:
        ingest.stop()


def _stored_at(world: World, sensor: str, ts: int) -> list[list[Any]]:
    rows = world.influx.query(
        f"SELECT seq, laeq FROM noise WHERE sensor = '{sensor}' AND time = {ts}ms"
    )
    return [row[1:] for row in rows[0].values] if rows else []


def test_a_conflict_leaves_the_stored_reading_right_away_and_after_a_restart(world: World):
    t = _recent_ms()
    backfill = t - 6 * 86_400_000  # six days old: still accepted
    ingest = world.ingest()
    wait_for(lambda: ingest.pipeline.identity_seeded)  # decided in memory from here on
    try:
        # the three: (seq 1, T, 50), then (seq 1, T, 95), then (seq 7, T, 120)
        for seq, laeq in ((1, 50.0), (1, 95.0), (7, 120.0)):
            world.pub.send(world.topic("n-01"), noise(t, seq, laeq))
        world.pub.send(world.topic("n-01"), noise(t, 1, 50.0))  # the same again: a duplicate
        world.pub.send(world.topic("n-01"), noise(backfill, 900, 61.0))  # a device's backlog
        wait_for(lambda: ingest.source.acked == 5)
        wait_for(lambda: _stored_at(world, "n-01", backfill))
        assert _stored_at(world, "n-01", t) == [[1, 50]]
        assert [i["detail"] for i in world.rejected("conflict")] == [
            f"sensor 'n-01': a reading for ts {_iso(t)} is already stored; this one differs "
            "(laeq 50.0 → 95.0) and was not written over it",
            f"sensor 'n-01': a reading for ts {_iso(t)} is already stored; this one differs "
            "(seq 1 → 7, laeq 50.0 → 120.0) and was not written over it",
        ]
        wait_for(lambda: ingest.pipeline.stats.duplicates == 1)
        assert ingest.writer.stats.checked_readings == 0  # all decided in memory
    finally:
        ingest.stop()
    # linli's ingest restarts: its memory is gone, InfluxDB and the case store remain
    ingest = world.ingest()
    try:
        world.pub.send(world.topic("n-01"), noise(t, 9, 130.0))  # at once, maybe before seeding
        world.pub.send(
            world.topic("n-01"),
            {"batch": [noise(backfill, 901, 99.0), noise(backfill + 60_000, 902, 62.0)]},
        )
        world.pub.send(world.topic("n-01"), noise(t, 1, 50.0))  # the first one, once more
        wait_for(lambda: ingest.source.acked == 3)
        wait_for(lambda: _stored_at(world, "n-01", backfill + 60_000))
        assert _stored_at(world, "n-01", t) == [[1, 50]]
        assert _stored_at(world, "n-01", backfill) == [[900, 61]]
        assert ingest.writer.stats.checked_readings == 4  # all at or below the newest stored
        details = [i["detail"] for i in world.rejected("conflict")]
        assert details[2:] == [
            f"sensor 'n-01': a reading for ts {_iso(t)} is already stored; this one differs "
            "(seq 1 → 9, laeq 50 → 130.0) and was not written over it",
            f"batch[0]: sensor 'n-01': a reading for ts {_iso(backfill)} is already stored; "
            "this one differs (seq 900 → 901, laeq 61 → 99.0) and was not written over it",
        ]
        # counted per sensor and reason in InfluxDB and by the API
        assert world.counted() == {("n-01", "conflict"): 4}
        counts = world.api.get("/api/v1/rejected/counts", headers=AUTH).json()
        assert counts == [{"sensor": "n-01", "reason": "conflict", "count": 4, "evicted": 0}]
        # the duplicate before the restart and the one after it, in the device accounting
        wait_for(lambda: _duplicates(world, "n-01") == 2)
        assert ingest.pipeline.stats.duplicates == 1  # this process's
        # the engine was handed each stored reading once, and no conflicting one
        laeqs = sorted(r.metrics["laeq"] for r in world.handed if isinstance(r, Reading))
        assert laeqs == [50.0, 61.0, 62.0]
        assert count(world.influx, "noise", "laeq", "WHERE sensor = 'n-01'") == 3
    finally:
        ingest.stop()


def test_a_stop_between_two_accountings_writes_what_it_counted(world: World):
    # an hour between accountings: only the stop itself can write the duplicate
    t = _recent_ms()
    ingest = Ingest(
        world.settings, world.db, world.db, world.influx, account_every_ms=3_600_000
    ).start(wait_subscribed_s=WAIT_S)
    try:
        world.pub.send(world.topic("n-01"), noise(t, 1, 50.0))
        world.pub.send(world.topic("n-01"), noise(t, 1, 50.0))  # the same again
        wait_for(lambda: ingest.source.acked == 2)
        wait_for(lambda: ingest.pipeline.stats.duplicates == 1)
        assert _duplicates(world, "n-01") == 0  # counted, not yet written
    finally:
        ingest.stop()
    assert _duplicates(world, "n-01") == 1


def _acked(ingest: Ingest, n: int) -> bool:
    return ingest.source.acked == n


def _duplicates(world: World, sensor: str) -> int:
    rows = world.influx.query(f"SELECT sum(duplicates) FROM device WHERE sensor = '{sensor}'")
    return int(rows[0].values[0][1]) if rows else 0


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")


def test_a_worker_on_a_shared_subscription_checks_every_reading(world: World):
    # with several workers no worker's memory knows what the others stored
    world.settings = world.settings.model_copy(update={"mqtt_share_group": "evidence"})
    t = _recent_ms()
    ingest = world.ingest()
    try:
        for sent, laeq in enumerate((50.0, 95.0, 50.0), start=1):
            world.pub.send(world.topic("n-01"), noise(t, 1, laeq))
            wait_for(partial(_acked, ingest, sent))  # each its own batch
        assert not ingest.pipeline.identity_seeded
        assert ingest.writer.stats.checked_readings == 3
        assert _stored_at(world, "n-01", t) == [[1, 50]]
        assert [i["detail"] for i in world.rejected("conflict")] == [
            f"sensor 'n-01': a reading for ts {_iso(t)} is already stored; this one differs "
            "(laeq 50 → 95.0) and was not written over it"
        ]
        wait_for(lambda: ingest.pipeline.stats.duplicates == 1)
    finally:
        ingest.stop()
