"""Through MQTT, not function calls: a published day opens exactly the expected cases.

A night-time nuisance at a zone 2 building, a lawful daytime level at a shop, a fume
breach, a purifier-off spell and a clean restaurant; published as it happens and a day
late; linli restarted in the middle of the night-time breach.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linli.influx.annotations import influx_teller
from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.ingestion import Ingest
from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.rules.reading import SensorKind
from linli.rules.registry import Merchant, Sensor, SiteKind, Zone
from linli.settings import Settings
from linli.store import Database, GridRecord, SiteRecord
from tests.helpers import WAIT_S, Publisher, count, settings_for, wait_for

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
# The test's clock jumps between the streams' times: no sensor is judged offline here
# (device_offline has its own tests in tests/test_engine.py).
POLICY = RulePolicy(offline_periods=100_000)


def yesterday(hhmm: str) -> int:
    """Epoch ms of HH:MM local time yesterday."""
    h, m = (int(x) for x in hhmm.split(":"))
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


def fill(db: Database) -> None:
    db.create_grid(GridRecord("g1", "红街一网格"))
    m = Merchant("老板")
    for site in (
        SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"),
        SiteRecord("shop-1", "便利店", SiteKind.SHOP, Zone.Z2, "g1", merchant=m),
        SiteRecord("rest-1", "蜀味小馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=m, cooking_heads=2),
        SiteRecord("bbq-1", "夜市烧烤", SiteKind.SHOP, Zone.Z2, "g1", merchant=m, cooking_heads=3),
        SiteRecord("rest-2", "清爽面馆", SiteKind.SHOP, Zone.Z2, "g1", merchant=m, cooking_heads=1),
    ):
        db.create_site(site)
    for sensor_id, kind, site_id in (
        ("n-01", SensorKind.NOISE, "hj-b1"),
        ("n-02", SensorKind.NOISE, "shop-1"),
        ("f-01", SensorKind.FUME, "rest-1"),
        ("f-02", SensorKind.FUME, "bbq-1"),
        ("f-03", SensorKind.FUME, "rest-2"),
    ):
        db.create_sensor(Sensor(sensor_id, kind, site_id))


def on_test_servers(
    mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str, tmp: Path
) -> tuple[Settings, Database, InfluxClient]:
    """Settings on the test servers, the case store holding `fill`'s community, InfluxDB ready."""
    settings = settings_for(mqtt_url, influx_url, influx_db, topic_prefix, tmp)
    db = Database(settings.db_url)
    fill(db)
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    return settings, db, influx


def stream(start: str, n: int, metrics: Any) -> list[dict[str, Any]]:
    t0 = yesterday(start)
    return [
        {"ts": t0 + i * MIN, "seq": i + 1, "period_s": 60, "metrics": metrics(i)} for i in range(n)
    ]


NIGHT = stream("22:01", 20, lambda i: {"laeq": 56.0, "l90": 40 + i % 5 * 0.1})
DAY = stream("14:01", 20, lambda i: {"laeq": 58.0, "l90": 45 + i % 5 * 0.1})
FUME = stream("12:01", 15, lambda i: {"oil_fume": 2.6 + i % 3 * 0.01, "fan_on": True,
                                      "purifier_on": True, "purifier_current": 2.0})  # fmt: skip
NO_PURIFIER = stream("18:01", 15, lambda i: {"oil_fume": 1.0 + i % 3 * 0.01, "fan_on": True,
                                             "purifier_on": False})  # fmt: skip
CLEAN = stream("12:01", 15, lambda i: {"oil_fume": 0.8 + i % 3 * 0.01, "fan_on": True,
                                       "purifier_on": True, "purifier_current": 2.1})  # fmt: skip


class Linli:
    """ingest + engine on the test servers, restartable on the same store."""

    def __init__(self, settings: Any, influx: InfluxClient, clock: Any) -> None:
        self.db = Database(settings.db_url)
        self.engine = Engine(
            self.db,
            POLICY,
            tell=influx_teller(influx.write),
            tick_s=0.05,
            clock=clock,
            history=InfluxHistory(influx),
        ).start()
        self.ingest = Ingest(settings, self.db, self.db, influx, on_stored=self.engine.submit)
        self.ingest.start(wait_subscribed_s=WAIT_S)

    def stop(self) -> None:
        self.ingest.stop()
        self.engine.stop()
        self.db.close()


@pytest.mark.parametrize(
    "when",
    [
        pytest.param(None, id="as it happens"),
        pytest.param("now", id="a day late"),
        # the night a day and minutes old: the restart's replay horizon (a day) cuts the
        # night's first half off, or all of it; each sensor's memory comes back all the same
        pytest.param("22:10", id="a day late, at 22:10"),
        pytest.param("23:30", id="a day late, at 23:30"),
    ],
)
def test_a_published_day_opens_exactly_the_expected_cases(
    when, mqtt_url, influx_url, influx_db, topic_prefix, tmp_path: Path
):
    settings, db, influx = on_test_servers(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path)
    db.close()
    late = when is not None
    # as it happens: linli's clock a minute after the last reading sent; a day late: now,
    # or today's HH:MM (yesterday's readings a day and so much old)
    now_ms = [time.time_ns() // 1_000_000]
    if when is not None and when != "now":
        now_ms[0] = yesterday(when) + 24 * 3600 * 1000

    def clock() -> int:
        return now_ms[0]

    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    linli = Linli(settings, influx, clock)
    judged = 0

    def send(sensor: str, readings: list[dict[str, Any]]) -> None:
        nonlocal judged
        if not late:
            now_ms[0] = readings[-1]["ts"] + MIN
        pub.send(f"{topic_prefix}/{sensor}/telemetry", {"batch": readings})
        judged += len(readings)
        wait_for(lambda: linli.engine.judged == judged)

    try:
        send("n-01", NIGHT[:12])  # the breach opens at the 8th reading
        linli.stop()  # restart in the middle of the breach
        linli, judged = Linli(settings, influx, clock), 0
        send("n-01", NIGHT[12:])
        for sensor, readings in (
            ("n-02", DAY),
            ("f-01", FUME),
            ("f-02", NO_PURIFIER),
            ("f-03", CLEAN),
        ):
            send(sensor, readings)
        with linli.db.cases() as tx:
            found, total = tx.list_cases()
            details = {c.site: tx.detail(c.id) for c in found}  # type: ignore[arg-type]
        got = sorted(
            (c.site, c.rule, c.kind.value, c.state.value, c.late, c.occurrences) for c in found
        )
        assert got == [
            ("bbq-1", "purifier_off", "breach", "open", late, 1),
            ("hj-b1", "noise_leq", "breach", "open", late, 1),
            ("rest-1", "fume_conc", "breach", "open", late, 1),
        ]
        assert total == 3
        noise = details["hj-b1"].evidence[0]
        assert (noise.sensor, noise.measured, noise.limit_value, noise.clause_zh) == (
            "n-01", 56.0, 50.0, "GB 3096-2008 表1 2类 夜间 50 dB(A)",
        )  # fmt: skip
        # the episode, judged over from 22:08, grew: told again 10 min on, at 22:18
        assert (noise.start_ms, noise.end_ms) == (yesterday("22:00"), yesterday("22:18"))
        # the snapshot holds at once the readings in memory when the breach was judged:
        # the rules' 10-minute window of the batch of 12 it came in
        assert [s["seq"] for s in noise.snapshot] == list(range(3, 13))
        fume = details["rest-1"].evidence[0]
        assert (fume.measured, fume.limit_value, fume.clause_zh) == (
            2.61, 2.0, "GB 18483-2001 表2 小型 油烟最高允许排放浓度 2 mg/m³",
        )  # fmt: skip
        purifier = details["bbq-1"].evidence[0]
        assert (purifier.measured, purifier.unit, purifier.standard) == (
            10.0,
            "min",
            "GB 18483-2001",
        )
        assert purifier.clause_zh is not None and purifier.clause_zh.startswith(
            "GB 18483-2001 §5.1"
        )
        # Grafana annotations: one `open` event per case (the jumping clock also escalates)
        opened = """WHERE "action" = 'open'"""
        wait_for(lambda: count(influx, "case_event", "case_id", opened) == 3)
        # once late data has had its time, the snapshot is read back from InfluxDB: the
        # readings from 30 min before to 30 min after the window, all 20
        now_ms[0] = max(now_ms[0], NIGHT[-1]["ts"]) + 3 * 3600 * 1000

        def snapshot() -> list[int]:
            with linli.db.cases() as tx:
                return [s["seq"] for s in tx.detail(details["hj-b1"].case.id).evidence[0].snapshot]  # type: ignore[arg-type]

        wait_for(lambda: snapshot() == list(range(1, 21)))
    finally:
        pub.close()
        linli.stop()
        influx.close()
