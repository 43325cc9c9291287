"""Residents' complaints through MQTT, InfluxDB and the API (CONTRACT §7).

Readings are published to the real mosquitto, stored by linli's ingest in the real
influxd and judged by the engine (which opens the KTV's case); complaints come in by
`POST /api/v1/complaints` and Open311, and are judged on what InfluxDB holds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from linli.api import intake
from linli.api.app import create_app
from linli.api.routers.open311 import RESOLVED_NOTE
from linli.influx.client import InfluxClient
from linli.influx.history import InfluxHistory
from linli.ingestion import Ingest
from linli.rules.complaint import ComplaintRules, Deadline
from linli.rules.engine.engine import Engine
from linli.rules.engine.telling import OutboxTeller
from linli.rules.policy import RulePolicy
from linli.rules.reading import SensorKind
from linli.rules.registry import Contact, Merchant, Sensor, SiteKind, Zone
from linli.rules.routing import ChannelType, Group, NotifyPlan, directory_of
from linli.store import Database, GridRecord, Role, SiteRecord
from linli.wiring import api_config
from tests.api.conftest import ADMIN_TOKEN, bearer
from tests.helpers import WAIT_S, Publisher, count, settings_for, wait_for

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
POLICY = RulePolicy(offline_periods=100_000)  # the streams are yesterday's: nobody offline
RULES = ComplaintRules(
    near={"tc-b1": ("ktv-1",)},
    deadlines={"12345": Deadline(2.0, 5), "walk_in": Deadline(4.0, 5)},
)
PLAN = NotifyPlan(
    channels={"sms": ChannelType.SMS, "city": ChannelType.WEBHOOK},
    grids={"g1": ("city",)},
    community=Group("天新社区", (), ("city",)),
)
# GeoReport v2's field names (wiki.open311.org/GeoReport_v2), exactly
OPEN311_REQUEST = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
}  # fmt: skip
OPEN311_SERVICE = {
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group"
}  # fmt: skip


def yesterday(hhmm: str) -> int:
    """Epoch ms of HH:MM local time yesterday."""
    h, m = (int(x) for x in hhmm.split(":"))
    day = datetime.now(TZ) - timedelta(days=1)
    return int(day.replace(hour=h, minute=m, second=0, microsecond=0).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, TZ).isoformat()


def stream(start: str, n: int, metrics: dict[str, Any], seq0: int = 0) -> list[dict[str, Any]]:
    """One-minute noise readings; the background L90 moves a little (a constant stream is a
    stuck sensor, a device case of its own)."""
    t0 = yesterday(start)
    return [
        {
            "ts": t0 + (i + 1) * MIN,
            "seq": seq0 + i + 1,
            "period_s": 60,
            "metrics": {**metrics, "l90": 38 + i % 5 * 0.1},
        }
        for i in range(n)
    ]


def fill(db: Database) -> None:
    worker = Contact("王丽", "138-0000-0001", {"sms": "13800000001"})
    db.create_grid(GridRecord("g1", "红街天城北网格", (worker,)))
    db.create_grid(GridRecord("g2", "西网格"))
    boss = Merchant("欢唱娱乐", (Contact("韩磊", "139", {"sms": "13900000112"}),))
    for site in (
        SiteRecord("tc-b1", "红街天城1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1",
                   address="上城区新塘路 红街天城1幢"),
        SiteRecord("ktv-1", "欢唱KTV", SiteKind.SHOP, Zone.Z2, "g1", address="上城区新塘路70号",
                   category="ktv", merchant=boss),
        SiteRecord("hj-b1", "红街公寓1幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1",
                   address="上城区天城路 红街公寓1幢"),
        SiteRecord("hj-b2", "红街公寓2幢", SiteKind.RESIDENTIAL, Zone.Z2, "g1",
                   address="上城区天城路 红街公寓2幢"),
        SiteRecord("bbq-1", "夜市烧烤", SiteKind.SHOP, Zone.Z2, "g1", address="上城区新塘路72号",
                   merchant=Merchant("夜市烧烤"), cooking_heads=3),
        SiteRecord("w-1", "西区便利店", SiteKind.SHOP, Zone.Z2, "g2", address="西区1号"),
    ):  # fmt: skip
        db.create_site(site)
    for sensor_id, kind, site_id in (
        ("n-tc1", SensorKind.NOISE, "tc-b1"),
        ("n-ktv", SensorKind.NOISE, "ktv-1"),
        ("n-hj1", SensorKind.NOISE, "hj-b1"),
        ("n-hj2", SensorKind.NOISE, "hj-b2"),
        ("f-bbq", SensorKind.FUME, "bbq-1"),
    ):
        db.create_sensor(Sensor(sensor_id, kind, site_id))


class Linli:
    """ingest + engine + the API on the test servers and one case store."""

    def __init__(
        self, mqtt_url, influx_url, influx_db, topic_prefix, tmp: Path, store_url: str
    ) -> None:
        self.settings = settings_for(
            mqtt_url, influx_url, influx_db, topic_prefix, tmp, admin_token=ADMIN_TOKEN,
            db_url=store_url,
        )  # fmt: skip
        self.prefix = topic_prefix
        self.db = Database(self.settings.db_url)
        fill(self.db)
        self.influx = InfluxClient(influx_url, influx_db)
        self.influx.ensure_database("400d")
        registry = self.db.load_registry
        self.teller = OutboxTeller(
            lambda: directory_of(registry(), PLAN),
            lambda: {s.id: s.name for s in registry().sites.values()},
            "https://linli.example",
            TZ,
        )
        self.engine = Engine(
            self.db,
            POLICY,
            tellers=[self.teller],
            tick_s=0.05,
            history=InfluxHistory(self.influx),
        ).start()
        self.ingest = Ingest(
            self.settings, self.db, self.db, self.influx, on_stored=self.engine.submit
        )
        self.ingest.start(wait_subscribed_s=WAIT_S)
        self.app = create_app(
            api_config(self.settings),
            self.db,
            self.influx,
            lambda: True,
            policy=POLICY,
            tellers=[self.teller],
            complaint_rules=RULES,
        )
        self.client = TestClient(self.app)
        self.pub = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
        self.judged = 0
        staff, _ = self.db.create_token(Role.STAFF, note="社区办 徐主任")
        worker, _ = self.db.create_token(Role.GRID_WORKER, grids=["g1"], note="王丽")
        merchant, _ = self.db.create_token(Role.MERCHANT, site="ktv-1")
        self.tokens = {"staff": staff, "grid_worker": worker, "merchant": merchant}
        self.h = {k: bearer(v) for k, v in self.tokens.items()} | {"admin": bearer(ADMIN_TOKEN)}

    def send(self, sensor: str, readings: list[dict[str, Any]], judged: bool = True) -> None:
        """Publish a batch through MQTT and wait until it is stored (and judged)."""
        before = self.stored(sensor)
        self.pub.send(f"{self.prefix}/{sensor}/telemetry", {"batch": readings})
        wait_for(lambda: self.stored(sensor) == before + len(readings))
        if judged:
            self.judged += len(readings)
            wait_for(lambda: self.engine.judged >= self.judged)

    def stored(self, sensor: str) -> int:
        total = 0
        for measurement, field in (("noise", "laeq"), ("fume", "oil_fume")):
            total += count(self.influx, measurement, field, f"""WHERE "sensor" = '{sensor}'""")
        return total

    def complain(self, who: str = "grid_worker", **body: Any) -> Any:
        doc = {"kind": "noise", "text": "楼下KTV太吵，睡不着", "source": "12345", **body}
        return self.client.post("/api/v1/complaints", json=doc, headers=self.h[who])

    def cases(self) -> list[Any]:
        with self.db.cases() as tx:
            found, _ = tx.list_cases()
        return found

    def deliveries(self, case_id: int) -> list[Any]:
        with self.db.outbox() as box:
            return list(box.of_case(case_id))

    def stop(self) -> None:
        self.pub.close()
        self.ingest.stop()
        self.engine.stop()
        self.db.close()
        self.influx.close()


@pytest.fixture
def linli(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, store_url) -> Iterator[Linli]:
    """linli on SQLite and on PostgreSQL (tests/conftest.py `store_url`)."""
    running = Linli(mqtt_url, influx_url, influx_db, topic_prefix, tmp_path, store_url)
    yield running
    running.stop()


NIGHT_KTV = stream("23:00", 30, {"laeq": 63.0, "lamax": 64.0})
NIGHT_HOME = stream("23:00", 30, {"laeq": 56.0, "lamax": 62.0})


def test_a_night_complaint_beside_a_loud_ktv_is_corroborated_and_joins_the_ktvs_case(linli):
    linli.send("n-ktv", NIGHT_KTV)
    linli.send("n-tc1", NIGHT_HOME)
    ktv_case = next(c for c in linli.cases() if c.site == "ktv-1" and c.rule == "noise_leq")
    body: dict[str, Any] = {"site": "tc-b1", "from": iso(yesterday("23:00")), "to": iso(yesterday("23:30")),
            "external_id": "12345-20261201-0042", "contact": {"name": "李女士", "phone": "139"}}  # fmt: skip
    answer = linli.complain(**body)
    assert answer.status_code == 201, answer.text
    first = answer.json()
    c = first["corroboration"]
    # the building's own sensor: what the resident hears, judged by GB 3096 in zone 2 at night
    assert (c["verdict"], c["sensor"], c["measured"], c["limit"], c["standard"], c["clause"]) == (
        "corroborated", "n-tc1", 56.0, 50.0, "GB 3096-2008", "GB 3096-2008 表1 2类 夜间 50 dB(A)",
    )  # fmt: skip
    assert "56.0" in c["summary"] and c["on_site_check"] is False
    assert datetime.fromisoformat(c["from"]) == datetime.fromisoformat(body["from"])
    assert first["case_id"] == ktv_case.id  # the KTV's open case, the source of the noise
    assert (first["case_complaints"], first["priority"]) == (1, "normal")
    assert first["reference"].startswith("TS-")
    detail = linli.client.get(f"/api/v1/complaints/{first['id']}", headers=linli.h["staff"])
    readings = detail.json()["readings"]
    assert len(readings) == 30 and {r["sensor"] for r in readings} == {"n-tc1"}
    # the same 12345 order again, word for word: the same complaint, nothing stored twice
    again = linli.complain(**body)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    # the resident calls the hotline again about the same order: merged (并单), kept with
    # its own words and source, counted on the case, whose priority rises
    repeat = linli.complain(**{**body, "text": "又开始唱了，已经凌晨一点"})
    assert repeat.status_code == 201, repeat.text
    merged = repeat.json()
    assert (merged["merged_into"], merged["case_id"]) == (first["id"], ktv_case.id)
    assert (merged["case_complaints"], merged["priority"]) == (2, "high")
    listed = linli.client.get(
        "/api/v1/complaints", params={"case": ktv_case.id}, headers=linli.h["staff"]
    ).json()
    assert listed["total"] == 2
    assert sorted(i["text"] for i in listed["items"]) == [
        "又开始唱了，已经凌晨一点",
        "楼下KTV太吵，睡不着",
    ]
    case = linli.client.get(f"/api/v1/cases/{ktv_case.id}", headers=linli.h["staff"]).json()
    assert (case["complaints"], case["priority"]) == (2, "high")
    notes = [e["note"] for e in case["timeline"] if e["action"] == "comment"]
    assert len(notes) == 2 and all(n.startswith("并单 居民投诉 TS-") for n in notes)
    # filters
    by_verdict = linli.client.get(
        "/api/v1/complaints", params={"verdict": "corroborated", "site": "tc-b1"},
        headers=linli.h["grid_worker"],
    ).json()  # fmt: skip
    assert by_verdict["total"] == 2


def test_a_daytime_complaint_at_a_lawful_level_is_not_corroborated_and_opens_a_told_case(linli):
    linli.send("n-hj1", stream("14:00", 30, {"laeq": 55.0, "lamax": 70.0}))
    answer = linli.complain(
        site="hj-b1", source="walk_in", text="白天楼下装修很吵",
        **{"from": iso(yesterday("14:00")), "to": iso(yesterday("14:30"))},
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    got = answer.json()
    c = got["corroboration"]
    assert (c["verdict"], c["measured"], c["limit"], c["clause"]) == (
        "not_corroborated", 55.0, 60.0, "GB 3096-2008 表1 2类 昼间 60 dB(A)",
    )  # fmt: skip
    assert c["on_site_check"] is True and "现场核查" in c["summary"]
    (case,) = [x for x in linli.cases() if x.site == "hj-b1"]
    assert (case.id, case.kind.value, case.rule, case.level.value, case.state.value) == (
        got["case_id"], "complaint", "complaint_noise", "grid_worker", "open",
    )  # fmt: skip
    # walk-in: sign for within 4 hours (the community's setting), the next deadline
    assert case.sign_by_ms == case.opened_ms + 4 * 3600 * 1000
    assert got["expected"] == datetime.fromtimestamp(case.sign_by_ms / 1000, TZ).astimezone(
        ZoneInfo("UTC")
    ).isoformat(timespec="milliseconds")
    told = linli.deliveries(case.id)
    assert sorted((d.event, d.channel) for d in told) == [
        ("case.opened", "city"),
        ("case.opened", "sms"),
    ]
    detail = linli.client.get(f"/api/v1/cases/{case.id}", headers=linli.h["staff"]).json()
    assert "请网格员现场核查" in detail["timeline"][0]["note"]
    (evidence,) = detail["evidence"]
    assert (evidence["sensor"], evidence["measured"], evidence["limit_value"]) == (
        "n-hj1",
        55.0,
        60.0,
    )
    assert len(evidence["snapshot"]) == 30


def test_a_complaint_at_an_address_with_no_sensor_is_no_coverage_and_kept(linli):
    answer = linli.complain(address="西湖区文三路1号", source="phone", text="邻居家狗叫")
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert (got["verdict"], got["site"], got["case_id"]) == ("no_coverage", None, None)
    assert got["address"] == "西湖区文三路1号"
    # an address that names a site: matched by its address, judged on its sensors
    matched = linli.complain(address="新塘路72号 烧烤店门口", kind="fume", source="phone",
                             text="烧烤油烟呛人")  # fmt: skip
    assert matched.status_code == 201
    m = matched.json()
    assert (m["site"], m["corroboration"]["sensor"], m["verdict"]) == ("bbq-1", "f-bbq", "data_gap")
    # a site with no sensor of the kind: no coverage, on a complaint case for an on-site check
    home = linli.complain(site="hj-b1", kind="fume", text="楼下油烟")
    assert home.json()["verdict"] == "no_coverage" and home.json()["case_id"] is not None


def test_a_sensor_offline_for_the_window_is_a_data_gap_judged_again_when_late_readings_arrive(
    linli,
):
    window = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}
    linli.send("n-hj2", stream("22:00", 10, {"laeq": 45.0}), judged=False)  # then silent
    answer = linli.complain(site="hj-b2", text="半夜很吵", **window)
    assert answer.status_code == 201, answer.text
    first = answer.json()
    assert (first["verdict"], first["corroboration"]["coverage"]) == ("data_gap", 0.0)
    assert "重新判定" in first["corroboration"]["summary"]
    second = linli.complain(site="hj-b2", text="还是很吵", **window)  # joins the case
    assert second.json()["case_id"] == first["case_id"]
    # the device's buffered night arrives a day late
    linli.send("n-hj2", stream("23:00", 30, {"laeq": 58.0}, seq0=10), judged=False)
    # the sweep (linli/service.py runs it every minute) judges the data_gap ones again
    sweep = intake.Rejudging(linli.app.state.services, every_s=0.05).start()
    try:
        wait_for(lambda: _verdict(linli, second.json()["id"]) == "corroborated")
    finally:
        sweep.stop()
    with linli.db.complaints() as tx:
        judged = tx.complaint(second.json()["id"])
    assert (judged.verdict.value, judged.corroboration["measured"]) == ("corroborated", 58.0)
    # and reading it shows the new verdict, the case's timeline says so
    got = linli.client.get(f"/api/v1/complaints/{first['id']}", headers=linli.h["staff"]).json()
    assert (got["verdict"], got["corroboration"]["limit"]) == ("corroborated", 50.0)
    assert len(got["readings"]) == 30
    case = linli.client.get(f"/api/v1/cases/{first['case_id']}", headers=linli.h["staff"]).json()
    assert sum("迟到数据重新判定" in e["note"] for e in case["timeline"]) == 2


def _verdict(linli: Linli, complaint_id: int) -> str:
    with linli.db.complaints() as tx:
        return tx.complaint(complaint_id).verdict.value


def test_reading_a_data_gap_complaint_judges_it_again(linli):
    window = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}
    first = linli.complain(site="hj-b2", text="半夜很吵", **window).json()
    assert first["verdict"] == "data_gap"
    linli.send("n-hj2", stream("23:00", 30, {"laeq": 44.0}), judged=False)
    got = linli.client.get(f"/api/v1/complaints/{first['id']}", headers=linli.h["staff"]).json()
    assert (got["verdict"], got["corroboration"]["measured"]) == ("not_corroborated", 44.0)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        pytest.param({"site": "nowhere"}, 404, "site 'nowhere' does not exist", id="unknown site"),
        pytest.param(
            {"site": "w-1"},
            404,
            "site 'w-1' does not exist",
            id="a site outside the grid worker's grids",
        ),
        pytest.param(
            {"site": "hj-b1", "from": "2099-01-01T00:00:00+08:00"},
            422,
            "starts in the future",
            id="window in the future",
        ),
        pytest.param(
            {
                "site": "hj-b1",
                "from": "2026-01-01T00:00:00+08:00",
                "to": "2026-01-09T00:00:00+08:00",
            },
            422,
            "longer than 7 days",
            id="window longer than 7 days",
        ),
        pytest.param({"site": "hj-b1", "text": "   "}, 422, "needs its text", id="empty text"),
        pytest.param({"site": "hj-b1", "text": "吵" * 100_000}, 422, "text", id="100 KB of text"),
        pytest.param({}, 422, "names a site or an address", id="neither site nor address"),
        pytest.param({"site": "hj-b1", "kind": "smell"}, 422, "kind", id="unknown kind"),
        pytest.param({"site": "hj-b1", "source": "wechat"}, 422, "source", id="unknown source"),
        pytest.param({"site": "hj-b1", "from": "yesterday"}, 422, "RFC 3339", id="bad time"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_nothing_is_stored(linli, body, status, words):
    answer = linli.complain(**body)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["detail"]
    listed = linli.client.get("/api/v1/complaints", headers=linli.h["staff"]).json()
    assert listed["total"] == 0
    assert linli.cases() == []


def test_a_merchant_may_not_create_complaints(linli):
    answer = linli.complain(who="merchant", site="ktv-1")
    assert answer.status_code == 403
    assert "CONTRACT §5" in answer.json()["detail"]


def test_the_same_request_twice_at_once_is_one_complaint(linli):
    body = {"site": "hj-b1", "external_id": "12345-0001", "text": "吵",
            "from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}  # fmt: skip
    answers: list[Any] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        client = TestClient(linli.app)
        barrier.wait()
        doc = {"kind": "noise", "source": "12345", **body}
        answers.append(client.post("/api/v1/complaints", json=doc, headers=linli.h["staff"]))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 200, 200, 201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = linli.client.get("/api/v1/complaints", headers=linli.h["staff"]).json()
    assert listed["total"] == 1
    (case,) = linli.cases()
    assert case.complaints == 1


def test_open311_a_city_platform_posts_reads_and_sees_it_closed_with_the_closing_note(linli):
    linli.send("n-ktv", NIGHT_KTV)
    services = linli.client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services] == ["noise", "fume"]
    assert all(set(s) == OPEN311_SERVICE for s in services)
    key = linli.tokens["staff"]
    posted = linli.client.post(
        "/open311/v2/requests.json",
        data={"api_key": key, "service_code": "noise", "address_string": "上城区新塘路70号",
              "description": "KTV噪音扰民", "first_name": "张", "phone": "13900000000"},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    (created,) = posted.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    request_id = created["service_request_id"]
    (doc,) = linli.client.get(
        f"/open311/v2/requests/{request_id}.json", params={"api_key": key}
    ).json()
    assert set(doc) == OPEN311_REQUEST
    assert (doc["status"], doc["service_code"], doc["address_id"]) == ("open", "noise", "ktv-1")
    ktv_case = next(c for c in linli.cases() if c.site == "ktv-1")
    # the KTV's breach case: its next deadline is the escalation schedule's (30 min to sign)
    expected = datetime.fromisoformat(doc["expected_datetime"])
    assert int(expected.timestamp() * 1000) == ktv_case.opened_ms + 30 * 60 * 1000
    listed = linli.client.get("/open311/v2/requests.json", params={"api_key": key}).json()
    assert [d["service_request_id"] for d in listed] == [request_id]
    # the grid worker resolves the case: not yet the resident's answer (open, a neutral
    # line); closing it is: the city sees the request closed, with the closing note
    resolved = linli.client.post(
        f"/api/v1/cases/{ktv_case.id}/actions",
        json={"action": "resolve", "note": "已约谈KTV"},
        headers=linli.h["grid_worker"],
    )
    assert resolved.status_code == 200, resolved.text
    (doc,) = linli.client.get(f"/open311/v2/requests/{request_id}.json").json()
    assert (doc["status"], doc["status_notes"]) == ("open", RESOLVED_NOTE)
    closed = linli.client.post(
        f"/api/v1/cases/{ktv_case.id}/actions",
        json={"action": "close", "note": "已约谈KTV, 23点后关窗降音量"},
        headers=linli.h["grid_worker"],
    )
    assert closed.status_code == 200, closed.text
    (doc,) = linli.client.get(
        "/open311/v2/requests.json", params={"api_key": key, "service_request_id": request_id}
    ).json()
    assert (doc["status"], doc["status_notes"]) == ("closed", "已约谈KTV, 23点后关窗降音量")
    assert doc["expected_datetime"] is None
    closed = linli.client.get(
        "/open311/v2/requests.json", params={"api_key": key, "status": "open"}
    ).json()
    assert closed == []
    mine = linli.client.get(f"/api/v1/complaints/{request_id}", headers=linli.h["staff"]).json()
    assert mine["resolution"]["note"] == "已约谈KTV, 23点后关窗降音量"
    assert mine["source"] == "open311"


@pytest.mark.parametrize(
    ("method", "path", "params", "code"),
    [
        pytest.param(
            "GET", "/open311/v2/requests.json", {"api_key": "wrong"}, 401, id="bad api_key"
        ),
        pytest.param(
            "POST",
            "/open311/v2/requests.json",
            {"service_code": "noise", "description": "吵", "address_id": "ktv-1"},
            401,
            id="no api_key to post",
        ),
        pytest.param(
            "GET", "/open311/v2/requests/999.json", {"api_key": "S"}, 404, id="unknown id"
        ),
        pytest.param("GET", "/open311/v2/requests/x.json", {"api_key": "S"}, 404, id="not an id"),
        pytest.param(
            "POST",
            "/open311/v2/requests.json",
            {"api_key": "S", "service_code": "graffiti", "description": "x"},
            400,
            id="unknown service_code",
        ),
        pytest.param(
            "POST",
            "/open311/v2/requests.json",
            {"api_key": "S", "service_code": "noise", "description": ""},
            400,
            id="empty description",
        ),
        pytest.param(
            "POST",
            "/open311/v2/requests.json",
            {"api_key": "S", "service_code": "noise", "description": "吵"},
            400,
            id="neither address nor address_id",
        ),
        pytest.param(
            "GET",
            "/open311/v2/requests.json",
            {"api_key": "S", "start_date": "x"},
            400,
            id="bad start_date",
        ),
    ],
)
def test_open311_errors_are_georeports_list_of_code_and_description(
    linli, method, path, params, code
):
    params = {k: (linli.tokens["staff"] if v == "S" else v) for k, v in params.items()}
    if method == "GET":
        answer = linli.client.get(path, params=params)
    else:
        answer = linli.client.post(path, data=params)
    assert answer.status_code == code, answer.text
    (error,) = answer.json()
    assert set(error) == {"code", "description"} and error["code"] == code
    assert error["description"]
    with linli.db.complaints() as tx:
        assert tx.list_complaints()[1] == 0


def test_a_follow_up_not_satisfied_reopens_the_case_and_is_told(linli):
    linli.send("n-hj1", stream("23:00", 30, {"laeq": 52.0}))
    window = {"from": iso(yesterday("23:00")), "to": iso(yesterday("23:30"))}
    got = linli.complain(site="hj-b1", text="夜里很吵", **window).json()
    case_id = got["case_id"]
    early = linli.client.post(
        f"/api/v1/complaints/{got['id']}/followup", json={"satisfied": True},
        headers=linli.h["grid_worker"],
    )  # fmt: skip
    assert early.status_code == 409 and "after it is resolved" in early.json()["detail"]
    linli.client.post(f"/api/v1/cases/{case_id}/actions",
                      json={"action": "resolve", "note": "已劝导"}, headers=linli.h["grid_worker"])  # fmt: skip
    shown = linli.client.get(f"/api/v1/complaints/{got['id']}", headers=linli.h["staff"]).json()
    assert (shown["resolution"]["state"], shown["resolution"]["note"]) == ("resolved", "已劝导")
    before = len(linli.deliveries(case_id))
    rated = linli.client.post(
        f"/api/v1/complaints/{got['id']}/followup",
        json={"satisfied": False, "note": "还是吵"},
        headers=linli.h["staff"],
    )
    assert rated.status_code == 200, rated.text
    r = rated.json()
    assert (r["followup"]["satisfied"], r["followup"]["note"], r["case_state"]) == (
        False, "还是吵", "reopened",
    )  # fmt: skip
    events = [d.event for d in linli.deliveries(case_id)[before:]]
    assert events and set(events) == {"case.reopened"}
    merchant = linli.client.post(
        f"/api/v1/complaints/{got['id']}/followup", json={"satisfied": True},
        headers=linli.h["merchant"],
    )  # fmt: skip
    assert merchant.status_code == 403


def test_a_follow_up_not_satisfied_on_a_closed_case_opens_a_new_one(linli):
    got = linli.complain(site="hj-b1", text="夜里很吵").json()
    old = got["case_id"]
    linli.client.post(f"/api/v1/cases/{old}/actions", json={"action": "close", "note": "已处理"},
                      headers=linli.h["staff"])  # fmt: skip
    rated = linli.client.post(
        f"/api/v1/complaints/{got['id']}/followup", json={"satisfied": False, "note": "没人来"},
        headers=linli.h["staff"],
    ).json()  # fmt: skip
    assert rated["case_id"] != old and rated["case_state"] == "open"
    old_case = linli.client.get(f"/api/v1/cases/{old}", headers=linli.h["staff"]).json()
    assert old_case["state"] == "closed"
    assert f"重新立案 case {rated['case_id']}" in old_case["timeline"][-1]["note"]


def test_complaints_are_scoped_like_the_rest_of_the_api(linli):
    got = linli.complain(who="staff", site="w-1", text="西区很吵").json()
    assert (
        linli.client.get(
            f"/api/v1/complaints/{got['id']}", headers=linli.h["grid_worker"]
        ).status_code
        == 404
    )
    assert (
        linli.client.get("/api/v1/complaints", headers=linli.h["grid_worker"]).json()["total"] == 0
    )
    assert linli.client.get("/api/v1/complaints", headers=linli.h["staff"]).json()["total"] == 1
    assert linli.client.get("/api/v1/complaints").status_code == 401


def test_open311_wrong_api_keys_are_throttled_like_bearer_tokens(linli):
    """api/throttle.py: 10 failed tokens a minute per client, then 429 (on /api/v1 too)."""
    codes = [
        linli.client.get("/open311/v2/requests.json", params={"api_key": f"guess-{i}"}).status_code
        for i in range(11)
    ]
    assert codes == [401] * 10 + [429]
    (error,) = linli.client.get("/open311/v2/requests.json", params={"api_key": "guess"}).json()
    assert error["code"] == 429
    # only failures are throttled: a valid key from the same address still works
    valid = linli.client.get("/open311/v2/requests.json", params={"api_key": linli.tokens["staff"]})
    assert valid.status_code == 200 and isinstance(valid.json(), list)
