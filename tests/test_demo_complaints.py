"""`linli demo`'s residents' complaints (issue 14): the KTV night by 12345, the barbecue's
fume walk-in, a quiet afternoon the sensors do not bear out; each verdict printed.

The whole demo takes minutes to reach its night, so this publishes the scripted windows'
readings of the bundled community (through MQTT into InfluxDB) and runs the demo's
complaint filer against the API on them, its clock past every window.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.community import apply_community, load_community
from linli.demo import COMPLAINTS, DemoComplaints, complaint_body, replay_start
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.store import Database
from linli.wiring import api_config, load_complaint_rules
from tests.api.conftest import ADMIN_TOKEN
from tests.helpers import Publisher, count, settings_for, wait_for

# the demo's community file (installed as package data, linli.data: linli demo --check)
COMMUNITY = Path(__file__).resolve().parents[1] / "community" / "tianxin.toml"

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000


def minutes(sensor: str, begin: datetime, n: int, metrics: Any) -> list[dict[str, Any]]:
    t0 = int(begin.timestamp() * 1000)
    return [
        {"ts": t0 + (i + 1) * MIN, "seq": i + 1, "period_s": 60, "metrics": metrics(i)}
        for i in range(n)
    ]


def test_the_demo_files_three_complaints_and_prints_their_verdicts(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, admin_token=ADMIN_TOKEN
    )
    db = Database(settings.db_url)
    apply_community(db, load_community(COMMUNITY))
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    ingest = Ingest(settings, db, db, influx)
    ingest.start(wait_subscribed_s=10)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    day = replay_start(datetime.now(TZ))
    at = {c.label: day + c.start for c in COMPLAINTS}
    night, grill, afternoon = (at[c.label] for c in COMPLAINTS)
    streams = {
        # the KTV's doors open (~80 dB(A)); across the lane the building hears ~62 by night
        "n-ktv-01": minutes("n-ktv-01", night, 30, lambda i: {"laeq": 80.0 + i % 3 * 0.1}),
        "n-tc-01": minutes("n-tc-01", night, 30, lambda i: {"laeq": 62.0 + i % 3 * 0.1}),
        "n-tc-02": minutes("n-tc-02", night, 30, lambda i: {"laeq": 61.0 + i % 3 * 0.1}),
        "f-bbq-01": minutes("f-bbq-01", grill, 30, lambda i: {
            "oil_fume": 3.6, "fan_on": True, "purifier_on": False, "purifier_current": 0.0}),
        "n-hj-08": minutes("n-hj-08", afternoon, 30, lambda i: {"laeq": 51.0 + i % 3 * 0.1}),
        "n-shop-04": minutes("n-shop-04", afternoon, 30, lambda i: {"laeq": 53.0}),
    }  # fmt: skip
    try:
        for sensor, readings in streams.items():
            pub.send(f"{topic_prefix}/{sensor}/telemetry", {"batch": readings})
        stored = lambda: count(influx, "noise", "laeq") + count(influx, "fume", "oil_fume")  # noqa: E731
        wait_for(lambda: stored() == 180)
        app = create_app(
            api_config(settings), db, influx, lambda: True,
            complaint_rules=load_complaint_rules(COMMUNITY),
        )  # fmt: skip
        client = TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        out = io.StringIO()
        # its clock past every window: at 1e9 the µs between making it and filing came to
        # hours only, and the night's complaint was not yet due (now caps it: see `due`)
        filer = DemoComplaints(client, day, speed=1e11, out=out)
        filer.file_due(datetime.now(TZ))
        got = [
            (f["site"], f["source"], f["verdict"], f["corroboration"]["sensor"])
            for f in filer.filed
        ]
        assert got == [
            ("tc-b1", "12345", "corroborated", "n-tc-01"),  # GB 3096 4a: 55 by night
            ("bbq-yeshi", "walk_in", "corroborated", "f-bbq-01"),  # §5.1: the purifier off
            ("hj-b6", "phone", "not_corroborated", "n-hj-08"),  # 51 against 60 by day
        ]
        printed = out.getvalue().splitlines()
        assert len(printed) == 3 and all(line.startswith("[demo] ✉ 投诉 TS-") for line in printed)
        assert "not_corroborated" in printed[2] and "现场核查" in printed[2]
        # the windows are the scenario's: 22:10, 18:00 and 15:00 of the replayed day
        assert [complaint_body(c, day)["from"][11:16] for c in COMPLAINTS] == [
            "22:10", "18:00", "15:00",
        ]  # fmt: skip
        assert all(
            day + c.start + c.length < datetime.now(TZ) - timedelta(minutes=1) for c in COMPLAINTS
        )
        # filed once: nothing is due again
        filer.file_due(datetime.now(TZ))
        assert len(filer.filed) == 3
    finally:
        pub.close()
        ingest.stop()
        db.close()
        influx.close()
