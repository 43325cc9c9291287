"""`case_event` points (Grafana annotations, CONTRACT §4) carry the site's community
(CONTRACT §9), written by the engine on a real case store into a real influxd."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from linli.influx.annotations import SiteCommunities, influx_teller
from linli.influx.client import InfluxClient
from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.store import CommunityRecord, Database, GridRecord, SiteRecord
from tests.fakes import MemoryHistory

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000


def last_night(hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    database.apply_communities(
        [CommunityRecord("tianxin", "天新社区"), CommunityRecord("hongjie", "红街社区")]
    )
    for grid, community in (("g-tx", "tianxin"), ("g-hj", "hongjie")):
        database.create_grid(GridRecord(grid, grid, community=community))
        database.create_site(
            SiteRecord(f"b-{grid}", f"{grid} 1幢", SiteKind.RESIDENTIAL, Zone.Z2, grid)
        )
        database.create_sensor(Sensor(f"n-{grid}", SensorKind.NOISE, f"b-{grid}"))
    yield database
    database.close()


def test_each_case_event_is_tagged_with_its_sites_community(db: Database, influx_url, influx_db):
    influx = InfluxClient(influx_url, influx_db)
    try:
        influx.ensure_database("400d")
        communities = SiteCommunities(db.load_registry, db.registry_version)
        history = MemoryHistory()
        engine = Engine(
            db,
            RulePolicy(offline_periods=1000),
            tell=influx_teller(influx.write, communities),
            history=history,
        )
        t0 = last_night("23:00")
        for i in range(20):
            batch = [
                Reading(f"n-{g}", SensorKind.NOISE, t0 + i * MIN, i, 60, {"laeq": 58.0 + i % 3})
                for g in ("g-tx", "g-hj")
            ]
            history.add(batch)
            engine.process(batch, t0 + i * MIN)
        series = influx.query(
            'SELECT "case_id", "state" FROM "case_event" GROUP BY "site", "community"'
        )
        tagged = {(s.tags["site"], s.tags["community"]) for s in series}
        assert tagged == {("b-g-tx", "tianxin"), ("b-g-hj", "hongjie")}
        # a site moved to another community's grid: its next event says so
        db.create_grid(GridRecord("g-tx2", "天新二网格", community="tianxin"))
        db.patch_site("b-g-hj", {"grid": "g-tx2"})
        assert communities("b-g-hj") == "tianxin"
    finally:
        influx.close()
