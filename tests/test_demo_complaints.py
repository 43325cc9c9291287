"""`linli demo`'s residents' complaints: the KTV night by 12345, the barbecue's fume
walk-in, a quiet afternoon the sensors do not bear out; each verdict printed.

The demo picks its replayed day from the hour it is started at, so the complaints are
planned and filed here at every hour of a day (24 `now`s, Asia/Shanghai), never on the
wall clock. The whole demo takes minutes to reach its night, so the end-to-end test
publishes the scripted windows' readings of the bundled community (through MQTT into
InfluxDB) and runs the demo's complaint filer against the API on them.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.community import apply_community, load_community
from linli.demo import (
    COMPLAINTS,
    DAY_SPAN,
    MARGIN,
    DemoComplaints,
    DemoDay,
    is_due,
    simulated,
)
from linli.influx.client import InfluxClient
from linli.ingestion import Ingest
from linli.store import Database
from linli.wiring import api_config, load_complaint_rules
from tests.api.conftest import ADMIN_TOKEN
from tests.helpers import WAIT_S, Publisher, count, settings_for, wait_for

# the demo's community file (installed as package data, linli.data: linli demo --check)
COMMUNITY = Path(__file__).resolve().parents[1] / "community" / "tianxin.toml"

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
SPEED = 240  # linli demo's default --speed
# The day the tests start the demo on: two days back, so that every replayed day (one or
# two days before it) is in the past of the API's clock and within the 7 days ingest takes.
DAY = (datetime.now(TZ) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
# Every hour of the day; at 23:50 the day's 23:30 has passed and the demo replays that day.
NOWS = [DAY.replace(hour=h, minute=50 if h == 23 else 20) for h in range(24)]
EXPECTED = [  # (site, source, verdict, the sensor that decided) of the three complaints
    ("tc-b1", "12345", "corroborated", "n-tc-01"),  # GB 3096 4a: 55 by night
    ("bbq-yeshi", "walk_in", "corroborated", "f-bbq-01"),  # GB 18483 §5.1: the purifier off
    ("hj-b6", "phone", "not_corroborated", "n-hj-08"),  # 51 against 60 by day
]


@pytest.mark.parametrize("now", NOWS, ids=[n.strftime("%H:%M") for n in NOWS])
def test_the_demo_plans_its_three_complaints_at_any_hour(now: datetime) -> None:
    day = DemoDay.at(now)
    assert day.start.strftime("%H:%M") == "10:30"
    assert day.start + DAY_SPAN <= now < day.start + timedelta(days=2)
    assert day.late_after_s >= (now - day.start).total_seconds()  # replayed: not late data
    bodies = day.bodies()
    # the windows are the scenario's: 22:10, 18:00 and 15:00 of the replayed day
    assert [(b["from"][:10], b["from"][11:16], b["to"][11:16]) for _, b in bodies] == [
        (day.start.date().isoformat(), "22:10", "22:40"),
        (day.start.date().isoformat(), "18:00", "18:30"),
        (day.start.date().isoformat(), "15:00", "15:30"),
    ]
    assert [(b.get("site"), b["kind"], b["source"]) for _, b in bodies] == [
        ("tc-b1", "noise", "12345"),
        (None, "fume", "walk_in"),
        ("hj-b6", "noise", "phone"),
    ]
    # each is due once the fleet's clock passed its window and margin, and not before
    for complaint, body in bodies:
        end = datetime.fromisoformat(body["to"]) + MARGIN
        assert end < now and is_due(complaint, day.start, now)
        assert is_due(complaint, day.start, end)
        assert not is_due(complaint, day.start, end - timedelta(seconds=1))


@pytest.mark.parametrize(
    ("elapsed_s", "due"),
    [
        pytest.param(0, [], id="the fleet just started at 10:30 → none"),
        pytest.param(4.5 * 3600 / SPEED, [], id="15:00, the afternoon's window not over → none"),
        pytest.param(5.5 * 3600 / SPEED, ["hj-b6"], id="16:00 → the quiet afternoon"),
        pytest.param(12 * 3600 / SPEED, ["hj-b6", "bbq"], id="22:30 → and the barbecue"),
        pytest.param(13 * 3600 / SPEED, ["hj-b6", "bbq", "ktv"], id="23:30 → all three"),
        pytest.param(10**6, ["hj-b6", "bbq", "ktv"], id="caught up with now → all three"),
    ],
)
def test_a_complaint_is_due_when_the_fleets_clock_passed_its_window(
    elapsed_s: float, due: list[str]
) -> None:
    now = NOWS[10]
    day = DemoDay.at(now)
    at = simulated(day.start, elapsed_s, SPEED, now)
    assert at <= now
    labels = {"hj-b6": COMPLAINTS[2], "bbq": COMPLAINTS[1], "ktv": COMPLAINTS[0]}
    assert [k for k, c in labels.items() if is_due(c, day.start, at)] == due


def minutes(begin: datetime, n: int, metrics: Any, seq0: int) -> list[dict[str, Any]]:
    t0 = int(begin.timestamp() * 1000)
    return [
        {"ts": t0 + (i + 1) * MIN, "seq": seq0 + i + 1, "period_s": 60, "metrics": metrics(i)}
        for i in range(n)
    ]


def streams(day: datetime, seq0: int) -> dict[str, list[dict[str, Any]]]:
    """The readings of the three complaints' windows on the replayed `day`."""
    night, grill, afternoon = (day + c.start for c in COMPLAINTS)
    return {
        # the KTV's doors open (~80 dB(A)); across the lane the building hears ~62 by night
        "n-ktv-01": minutes(night, 30, lambda i: {"laeq": 80.0 + i % 3 * 0.1}, seq0),
        "n-tc-01": minutes(night, 30, lambda i: {"laeq": 62.0 + i % 3 * 0.1}, seq0),
        "n-tc-02": minutes(night, 30, lambda i: {"laeq": 61.0 + i % 3 * 0.1}, seq0),
        "f-bbq-01": minutes(grill, 30, lambda i: {
            "oil_fume": 3.6, "fan_on": True, "purifier_on": False, "purifier_current": 0.0}, seq0),
        "n-hj-08": minutes(afternoon, 30, lambda i: {"laeq": 51.0 + i % 3 * 0.1}, seq0),
        "n-shop-04": minutes(afternoon, 30, lambda i: {"laeq": 53.0}, seq0),
    }  # fmt: skip


def test_the_demo_files_three_complaints_and_prints_their_verdicts_at_any_hour(
    mqtt_url, influx_url, influx_db, topic_prefix, tmp_path
):
    settings = settings_for(
        mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, admin_token=ADMIN_TOKEN
    )
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    ingest_db = Database(f"sqlite:///{tmp_path}/ingest.db")
    apply_community(ingest_db, load_community(COMMUNITY))
    ingest = Ingest(settings, ingest_db, ingest_db, influx)
    ingest.start(wait_subscribed_s=WAIT_S)
    pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    days = sorted({DemoDay.at(now).start for now in NOWS})
    assert len(days) == 2  # 00:20–22:20 replay the day before; 23:50 its own day
    try:
        for n, day in enumerate(days):
            for sensor, readings in streams(day, seq0=n * 100).items():
                pub.send(f"{topic_prefix}/{sensor}/telemetry", {"batch": readings})
        stored = lambda: count(influx, "noise", "laeq") + count(influx, "fume", "oil_fume")  # noqa: E731
        wait_for(lambda: stored() == 180 * len(days))
        for now in NOWS:  # the demo started at `now`, on a case store of its own
            db = Database(f"sqlite:///{tmp_path}/at-{now:%H%M}.db")
            try:
                apply_community(db, load_community(COMMUNITY))
                _file_at(now, settings, db, influx)
            finally:
                db.close()
    finally:
        pub.close()
        ingest.stop(WAIT_S)
        ingest_db.close()
        influx.close()


def _file_at(now: datetime, settings: Any, db: Database, influx: InfluxClient) -> None:
    hour = f"started at {now:%H:%M}"
    day = DemoDay.at(now)
    app = create_app(
        api_config(settings), db, influx, lambda: True,
        complaint_rules=load_complaint_rules(COMMUNITY),
    )  # fmt: skip
    client = TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    out = io.StringIO()
    filer = DemoComplaints(client, day.start, speed=SPEED, out=out, clock=lambda: now)
    # 12 h of the day replayed (10:30 → 22:30): the KTV's night is not over yet
    filer.file_due(now, at=simulated(day.start, 12 * 3600 / SPEED, SPEED, now))
    assert [f["site"] for f in filer.filed] == ["bbq-yeshi", "hj-b6"], hour
    filer.file_due(now, at=simulated(day.start, 14 * 3600 / SPEED, SPEED, now))
    got = [
        (f["site"], f["source"], f["verdict"], f["corroboration"]["sensor"]) for f in filer.filed
    ]
    assert sorted(got) == sorted(EXPECTED), hour
    ktv_from = datetime.fromisoformat(filer.filed[-1]["from"]).astimezone(TZ)
    assert ktv_from == day.start.replace(hour=22, minute=10), hour  # the replayed night
    printed = out.getvalue().splitlines()
    assert len(printed) == 3 and all(line.startswith("[demo] ✉ 投诉 TS-") for line in printed)
    afternoon = next(line for line in printed if "quiet afternoon" in line)
    assert "not_corroborated" in afternoon and "现场核查" in afternoon, hour
    # filed once: nothing is due again
    filer.file_due(now, at=now)
    assert len(filer.filed) == 3, hour
