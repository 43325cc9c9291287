"""A small cluster world for the tests of one part: settings on this test's NATS names,
its own InfluxDB database and SQLite store holding tests/test_cases_e2e.py's community,
and `linli nats setup` done."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from linli.clustering import nats_setup
from linli.influx.client import InfluxClient
from linli.natsservers import NatsCluster
from linli.settings import Settings
from linli.store import Database
from tests.helpers import settings_for
from tests.test_cases_e2e import fill


@dataclass
class SmallCluster:
    settings: Settings
    db: Database
    influx: InfluxClient

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix


@pytest.fixture
def small_cluster(
    nats_servers: NatsCluster, nats_name: str, influx_url: str, influx_db: str, tmp_path: Path
) -> Iterator[Callable[..., SmallCluster]]:
    """`small_cluster(partitions, **settings)`: the world, set up (one per test)."""
    made: list[SmallCluster] = []

    def make(partitions: int, **extra: Any) -> SmallCluster:
        db_name = f"{influx_db}_c"
        settings = settings_for(
            nats_servers.nodes[0].mqtt_url, influx_url, db_name, f"{nats_name}/v1", tmp_path,
            nats_url=nats_servers.url, nats_name=nats_name, nats_partitions=partitions,
            nats_member_ttl_s=2.0, **extra,
        )  # fmt: skip
        db = Database(settings.db_url)
        fill(db)
        influx = InfluxClient(influx_url, db_name)
        influx.ensure_database("400d")
        made.append(SmallCluster(settings, db, influx))
        assert nats_setup(settings) == 0
        return made[-1]

    yield make
    for world in made:
        world.influx.query(f'DROP DATABASE "{world.settings.influx_db}"')
        world.influx.close()
        world.db.close()
