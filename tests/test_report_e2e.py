"""A site's month through the real ingest and engine (CONTRACT §10): readings over MQTT
into mosquitto → ingest → InfluxDB → the rule engine (which opens a case), a complaint
through the API; then the report's figures equal the ones computed here by hand, and the
SAME numbers come out of the noise dashboard's own queries run on the same influxd over
the day's and the night's range, and out of the board's printable page: one computation.

The ingest accepts readings up to 7 days old, so the fixture "month" is the day before
yesterday of the current month (its 22:00 boundary, a day over the limit half an hour);
the month's last night and a limit change mid-month are tests/rules/test_month.py's.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.dashboards import noise as noise_board
from linli.dashboards.options import Options
from linli.influx.client import InfluxClient
from linli.rules.month import month_of
from linli.rules.reading import SensorKind
from linli.rules.registry import Sensor, SiteKind, Zone
from linli.store import Database, GridRecord, SiteRecord
from linli.wiring import api_config
from tests.api.test_board import sign_in
from tests.helpers import Publisher, settings_for, wait_for
from tests.test_limits_e2e import Linli

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
ADMIN = "report-e2e-admin-token-0123456789abcdef"


def local(day: datetime, hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


def dashboard_query(title: str, ref: str = "A") -> str:
    """The noise dashboard's query of panel `title` (as provisioned in Grafana)."""
    board = noise_board.build(Options())
    for p in board["panels"]:
        if p["title"] == title:
            return str(next(t["query"] for t in p["targets"] if t["refId"] == ref))
    raise AssertionError(title)


def grafana(query: str, site: str, sensor: str, from_ms: int, to_ms: int) -> str:
    """The query as Grafana sends it for an absolute range, one interval over all of it."""
    return (
        query.replace("$timeFilter", f"time >= {from_ms}ms and time <= {to_ms}ms")
        .replace("$__interval", "100000d")
        .replace("$sensor", sensor)
        .replace("$site", site)
    )


def test_a_month_through_ingest_and_engine_equals_the_hand_and_the_dashboards(
    mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, admin_token=ADMIN
    )
    db = Database(settings.db_url)
    db.create_grid(GridRecord("g1", "红街一网格"))
    # a class 2 building, GB 3096-2008: 60 dB(A) by day, 50 by night
    db.create_site(SiteRecord("b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1"))
    db.create_sensor(Sensor("n-b1", SensorKind.NOISE, "b1"))
    db.close()
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    linli = Linli(settings, None, influx)  # GB 3096's 06:00/22:00, Asia/Shanghai
    pub = Publisher(mqtt_url, f"pub-rep-{topic_prefix.split('/')[0]}")
    day = datetime.now(TZ) - timedelta(days=2)
    try:
        readings: list[dict[str, Any]] = []

        def send(start: str, levels: list[float]) -> None:
            t0 = local(day, start)
            for i, laeq in enumerate(levels):
                metrics = {"laeq": laeq, "lamax": laeq + 6, "l90": laeq - 6}
                readings.append(
                    {
                        "ts": t0 + i * MIN,
                        "seq": len(readings) + 1,
                        "period_s": 60,
                        "metrics": metrics,
                    }
                )

        send(
            "10:01", [55.0 if i % 2 == 0 else 65.0 for i in range(60)]
        )  # 10:00–11:00 (varying: a stuck sensor is a device case)
        send("21:51", [57.0, 59.0] * 5)  # 21:50–22:00: the 22:00:00 reading measured daytime
        send("22:01", [47.0, 49.0] * 5)  # 22:00–22:10: the night
        pub.send(f"{topic_prefix}/n-b1/telemetry", {"batch": readings})
        wait_for(lambda: linli.engine.judged == 80)
        with linli.db.cases() as tx:
            opened, _ = tx.list_cases()
        assert [c.rule for c in opened] == ["noise_leq"]  # 55/65 alternating: 62.4 over 60

        app = create_app(api_config(settings), linli.db, influx, lambda: True)
        client = TestClient(app)
        admin = {"Authorization": f"Bearer {ADMIN}"}
        now = time.time_ns() // 1_000_000
        filed = client.post(
            "/api/v1/complaints",
            json={
                "site": "b1",
                "kind": "noise",
                "from": datetime.fromtimestamp((now - 40 * MIN) / 1000, TZ).isoformat(),
                "text": "楼下很吵",
                "source": "phone",
            },
            headers=admin,
        )
        assert filed.status_code == 201, filed.text

        month = month_of(local(day, "12:00"), "Asia/Shanghai")
        report = client.get(f"/api/v1/reports/sites/b1?month={month}", headers=admin).json()
        row = next(d for d in report["days"] if d["date"] == day.date().isoformat())
        # by hand: 30 minutes at 55, 30 at 65, 5 at 57 and 5 at 59 by day; 5 at 47 and 5
        # at 49 by night
        energy = 30 * 10**5.5 + 30 * 10**6.5 + 5 * 10**5.7 + 5 * 10**5.9
        ld = round(10 * math.log10(energy / 70), 1)
        ln = round(10 * math.log10((10**4.7 + 10**4.9) / 2), 1)
        assert (ld, ln) == (62.0, 48.1)
        assert (row["ld"], row["ln"]) == (ld, ln)
        assert (row["limit_day"], row["limit_night"], row["minutes_over"]) == (60, 50, 30.0)
        assert row["coverage_day"] == round(70 * 60 / 57_600, 4) == 0.0729
        assert row["coverage_night"] == round(10 * 60 / 28_800, 4) == 0.0208
        # the case the engine opened and the complaint were recorded today
        today = client.get(
            f"/api/v1/reports/sites/b1?month={month_of(now, 'Asia/Shanghai')}", headers=admin
        ).json()
        counted = next(d for d in today["days"] if d["date"] == datetime.now(TZ).date().isoformat())
        assert (counted["cases_opened"], counted["complaints"]) == (1, 1)

        # the dashboard's LAeq panel and its minutes-over panel, over the day and the
        # night as Grafana would ask for them (from the first reading measured in them)
        periods = (
            ("day", local(day, "06:00") + 30_000, local(day, "22:00"), ld, 30.0),
            ("night", local(day, "22:00") + 30_000, local(day + timedelta(days=1), "06:00"),
             ln, 0.0),
        )  # fmt: skip
        laeq_q = dashboard_query("等效声级与限值 · $site")
        over_q = dashboard_query("超标分钟")
        limit_q = dashboard_query("等效声级与限值 · $site", "B")
        for name, start, end, level, over in periods:
            (laeq,) = influx.query(grafana(laeq_q, "b1", "n-b1", start, end))
            assert round(laeq.values[0][1], 1) == level == row["ld" if name == "day" else "ln"]
            (minutes,) = influx.query(grafana(over_q, "b1", "n-b1", start, end))
            assert minutes.values[0][1] == over
            (limit,) = influx.query(grafana(limit_q, "b1", "n-b1", start, end))
            assert limit.values[0][1] == row["limit_day" if name == "day" else "limit_night"]

        # the board's printable page shows the same figures (it renders the same report)
        sign_in(client, ADMIN)
        page = client.get(f"/board/reports/sites/b1?month={month}").text
        found = re.search(
            rf'data-date="{day.date().isoformat()}">\s*<td>[^<]*</td>\s*'
            r'<td class="ld[^"]*">([^<]+)</td>\s*<td class="ln[^"]*">([^<]+)</td>',
            page,
        )
        assert found and found.groups() == (f"{ld:.1f}", f"{ln:.1f}"), page[:300]
    finally:
        pub.close()
        linli.stop()
        influx.close()
