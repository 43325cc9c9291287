"""Through MQTT: the limit stored with a reading is the limit its case is judged by, and a
reading is judged by the period it measured.

Ingest writes `limit_db` and `exceed_s` with every noise reading (what every dashboard's
limit line shows); the rule engine opens cases against the limit in force. Both come
from `SiteLimits.noise` by `Calendar.period_of`, so for every site of the Tianxin
community, by day and by night, the two numbers are the same.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from linli import wiring
from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.ingestion import Ingest
from linli.rules.engine.engine import Engine
from linli.rules.reading import SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.store import Database, GridRecord, SiteRecord
from linli.store.cases import Evidence
from tests.helpers import WAIT_S, Publisher, settings_for, wait_for

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
TIANXIN = Path(__file__).parent.parent / "community" / "tianxin.toml"


def yesterday(hhmm: str) -> int:
    """Epoch ms of HH:MM local time yesterday."""
    h, m = (int(x) for x in hhmm.split(":"))
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


def loud(start: str, n: int, seq0: int, laeq: float) -> list[dict[str, Any]]:
    """`n` one-minute readings, the first stamped at `start` yesterday."""
    t0 = yesterday(start)
    return [
        {
            "ts": t0 + i * MIN,
            "seq": seq0 + i,
            "period_s": 60,
            "metrics": {"laeq": laeq + (i % 3) * 0.1, "lamax": laeq + 5, "l90": laeq - 8},
        }
        for i in range(n)
    ]


class Linli:
    """What `linli serve` runs, without the API: ingest and the engine on the community."""

    def __init__(self, settings: Any, config: Path | None, influx: InfluxClient) -> None:
        self.db: Database = wiring.open_store(settings, config)
        policy = wiring.load_policy(settings, config)
        history = InfluxHistory(influx)
        self.engine = Engine(self.db, policy, tick_s=0.05, history=history).start()
        self.ingest = Ingest(
            settings, self.db, self.db, influx, policy=policy, on_stored=self.engine.submit
        )
        self.ingest.start(wait_subscribed_s=WAIT_S)

    def stop(self) -> None:
        self.ingest.stop()
        self.engine.stop()
        self.db.close()


def test_every_tianxin_site_stores_the_limit_its_case_is_judged_by(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    # Tianxin as shipped, but its KTV in zone 4b (the case): a shop is judged by
    # GB 22337 (class 4 at night: 55) where GB 3096 would say 60 for 4b.
    text = TIANXIN.read_text(encoding="utf-8")
    ktv = text.index('id = "ktv-huanchang"')
    zone = text.index('zone = "4a"', ktv)
    config = tmp_path / "tianxin.toml"
    config.write_text(text[:zone] + 'zone = "4b"' + text[zone + 11 :], encoding="utf-8")
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    linli = Linli(settings, config, influx)
    registry = linli.db.load_registry()
    assert registry.sites["ktv-huanchang"].zone is Zone.Z4B
    noise_sensors = sorted(s.id for s in registry.sensors.values() if s.kind is SensorKind.NOISE)
    assert len(noise_sensors) >= 20
    pub = Publisher(mqtt_url, f"pub-lim-{topic_prefix.split('/')[0]}")
    try:
        # 80 dB(A) is over every limit; 11 minutes by day and by night, from the start of
        # each period (the reading stamped 14:01 / 23:01 measured the minute before)
        for sensor in noise_sensors:
            batch = loud("14:01", 11, 1, 80.0) + loud("23:01", 11, 100, 80.0)
            pub.send(f"{topic_prefix}/{sensor}/telemetry", {"batch": batch})
        total = 22 * len(noise_sensors)
        wait_for(lambda: linli.engine.judged == total)
        with linli.db.cases() as tx:
            cases, _ = tx.list_cases(rule="noise_leq", limit=1000)
            evidence: list[Evidence] = [e for c in cases for e in tx.detail(c.id).evidence]  # type: ignore[arg-type]
        assert {c.site for c in cases} == {registry.sensors[s].site for s in noise_sensors}
        day_start, night_start = yesterday("14:00"), yesterday("23:00")
        periods: dict[str, set[str]] = defaultdict(set)
        limits: dict[tuple[str, str], float] = {}
        for e in evidence:
            period = "day" if day_start <= e.start_ms < night_start else "night"
            periods[e.sensor].add(period)
            stored = influx.query(
                f'SELECT "limit_db", "exceed_s" FROM "noise" WHERE "sensor" = \'{e.sensor}\' '
                f"AND time > {e.start_ms}ms AND time <= {e.end_ms}ms"
            )[0].values
            assert stored, f"{e.sensor}: no readings stored in its evidence window"
            # every reading in the window is stored with the case's limit, and counted over it
            assert {row[1] for row in stored} == {e.limit_value}, (e.sensor, period)
            assert {row[2] for row in stored} == {60}
            limits[(registry.sensors[e.sensor].site, period)] = e.limit_value  # type: ignore[assignment]
        assert all(periods[s] == {"day", "night"} for s in noise_sensors), dict(periods)
        # the KTV: GB 22337 class 4, not GB 3096 4b's 60; a zone 2 building: 60/50
        assert (limits[("ktv-huanchang", "day")], limits[("ktv-huanchang", "night")]) == (70, 55)
        building = next(
            s
            for s in registry.sites.values()
            if s.zone is Zone.Z2 and s.kind is SiteKind.RESIDENTIAL
        )
        assert (limits[(building.id, "day")], limits[(building.id, "night")]) == (60, 50)
    finally:
        pub.close()
        linli.stop()
        influx.close()


def test_lawful_evening_traffic_then_a_quiet_night_opens_no_case(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    # A roadside zone 4a building: traffic at 63–66 dB(A) until 22:00 (the day limit is
    # 70), then 50–53 at night (the night limit is 55). The reading stamped 22:00:00
    # measured 21:59–22:00, daytime: judged against the night limit it would pull the
    # first night window's LAeq over 55 and open a false case every evening.
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db = Database(settings.db_url)
    db.create_grid(GridRecord("g1", "红街一网格"))
    db.create_site(SiteRecord("road-1", "沿街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z4A, "g1"))
    db.create_sensor(Sensor("n-road-1", SensorKind.NOISE, "road-1"))
    db.close()
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    linli = Linli(settings, None, influx)  # no community file: GB 3096's 22:00–06:00
    pub = Publisher(mqtt_url, f"pub-road-{topic_prefix.split('/')[0]}")
    try:
        t0 = yesterday("21:31")
        readings = []
        for i in range(60):  # stamped 21:31 … 22:30
            ts = t0 + i * MIN
            evening = ts <= yesterday("22:00")
            laeq = 63.0 + (i % 4) if evening else 50.0 + (i % 4)
            metrics = {"laeq": laeq, "lamax": laeq + 8, "l90": laeq - 6}
            readings.append({"ts": ts, "seq": i + 1, "period_s": 60, "metrics": metrics})
        pub.send(f"{topic_prefix}/n-road-1/telemetry", {"batch": readings})
        wait_for(lambda: linli.engine.judged == 60)
        with linli.db.cases() as tx:
            cases, total = tx.list_cases()
        assert (total, cases) == (0, [])
        # and what was stored says the same: the 22:00:00 reading is a daytime minute
        rows = influx.query('SELECT "limit_db", "exceed_s", "hour_local" FROM "noise"')[0].values
        by_ts = {row[0]: row[1:] for row in rows}
        assert by_ts[yesterday("22:00")] == [70, 0, 21]
        assert by_ts[yesterday("22:01")] == [55, 0, 22]
        assert sum(row[2] for row in rows) == 0  # not one minute over its limit
    finally:
        pub.close()
        linli.stop()
        influx.close()
