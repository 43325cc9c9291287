"""`GET /api/v1/stats/cases` (CONTRACT §10): a month of two communities built through the
real engine and API at chosen times, its figures equal to numbers counted by hand, on
SQLite and PostgreSQL; the scope of each role; CSV; bad ranges."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linli.community import apply_street, load_street
from linli.rules.engine.engine import Engine
from linli.rules.links import LinkSigner, community_token
from linli.rules.policy import Escalation, RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.store import Database, Role
from tests.api.conftest import ADMIN, bearer
from tests.streetfiles import write_street

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000
H = 3_600_000
D = 24 * H
NOV = {"from": "2025-11-01T00:00:00+08:00", "to": "2025-12-01T00:00:00+08:00"}


def at(day: int, hhmm: str, month: int = 11) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(2025, month, day, h, m, tzinfo=TZ).timestamp() * 1000)


# Tianxin keeps the default schedule (sign for within 30 min, handle within 24 h);
# Huanding signs for within 10 min and handles within 2 h.
POLICY = RulePolicy(
    communities={
        "tianxin": RulePolicy(),
        "huanding": RulePolicy(escalation=Escalation(unacknowledged_s=600, unresolved_s=(7200,))),
    }
)


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    yield database
    database.close()


class Clock:
    """The API's clock, moved by the test."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def fume_breach(engine: Engine, sensor: str, ts0: int) -> None:
    for i in range(10):
        r = Reading(
            sensor,
            SensorKind.FUME,
            ts0 + i * MIN,
            i,
            60,
            {"oil_fume": 2.5 + i % 3 * 0.01, "fan_on": True},
        )
        engine.process([r], r.ts_ms)


@pytest.fixture
def month(db: Database, tmp_path: Path, make_client) -> dict[str, Any]:
    """November 2025 of Tianxin (cases A, B) and Huanding (C, D), one December case (E)."""
    apply_street(db, load_street(write_street(tmp_path / "street")))
    clock = Clock(at(3, "12:00"))
    client = make_client(policy=POLICY, clock=clock)
    tx_staff, _ = db.create_token(Role.STAFF, communities=["tianxin"])
    hd_staff, _ = db.create_token(Role.STAFF, communities=["huanding"])
    worker, _ = db.create_token(Role.GRID_WORKER, grids=["tx-g1"])
    merchant, _ = db.create_token(Role.MERCHANT, site="tx-shop")
    h = {
        "street": ADMIN,
        "tx": bearer(tx_staff),
        "hd": bearer(hd_staff),
        "worker": bearer(worker),
        "merchant": bearer(merchant),
    }
    engine = Engine(db, POLICY)

    def act(case_id: int, action: str, when: int, who: str) -> None:
        clock.now_ms = when
        r = client.post(f"/api/v1/cases/{case_id}/actions", json={"action": action}, headers=h[who])
        assert r.status_code == 200, r.text

    def complain(site: str, kind: str, source: str, when: int) -> dict[str, Any]:
        clock.now_ms = when
        body = {"site": site, "kind": kind, "text": "太吵了 我是1幢302", "source": source}
        r = client.post("/api/v1/complaints", json=body, headers=h["street"])
        assert r.status_code == 201, r.text
        return r.json()

    def followup(complaint_id: int, satisfied: bool, when: int) -> None:
        clock.now_ms = when
        r = client.post(
            f"/api/v1/complaints/{complaint_id}/followup",
            json={"satisfied": satisfied},
            headers=h["street"],
        )
        assert r.status_code == 200, r.text

    def case_at(site: str) -> dict[str, Any]:
        (found,) = client.get(f"/api/v1/cases?site={site}", headers=ADMIN).json()["items"]
        return found

    # A: Tianxin's shop over the fume limit; signed for after 5 min, a complaint joins it,
    # resolved after 2 h, the resident satisfied, closed
    fume_breach(engine, "f-tx-1", at(3, "12:00"))
    a = case_at("tx-shop")
    oa = a["opened_ms"]
    act(a["id"], "acknowledge", oa + 5 * MIN, "merchant")
    joined = complain("tx-shop", "fume", "phone", oa + 10 * MIN)
    assert joined["case_id"] == a["id"]
    act(a["id"], "resolve", oa + 2 * H, "merchant")
    followup(joined["id"], True, oa + 3 * H)
    act(a["id"], "close", oa + 4 * H, "tx")
    # B: a 12345 complaint at Tianxin's building (sign for within 2 h, handle within 5
    # working days): signed for after 1 h (late by the schedule's 30 min, in time by its
    # own), resolved after 2 days, then the resident not satisfied: reopened
    ob = at(4, "12:00")
    b = complain("tx-home", "noise", "12345", ob)
    act(b["case_id"], "acknowledge", ob + H, "worker")
    act(b["case_id"], "resolve", ob + 2 * D, "worker")
    followup(b["id"], False, ob + 2 * D + H)
    # C: Huanding's shop over the fume limit: signed for after 15 min (late by its 10),
    # resolved after 1 h (in time by its 2 h)
    fume_breach(engine, "f-hd-1", at(5, "12:00"))
    c = case_at("hd-shop")
    oc = c["opened_ms"]
    act(c["id"], "acknowledge", oc + 15 * MIN, "hd")
    act(c["id"], "resolve", oc + H, "hd")
    # D: a complaint at Huanding's building that nobody takes up
    complain("hd-home", "noise", "phone", at(5, "13:00"))
    # E: December's: outside the month
    complain("hd-home", "fume", "phone", at(1, "00:30", month=12))
    clock.now_ms = at(1, "09:00", month=12)
    return {"client": client, "h": h, "clock": clock}


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


FIELDS = (
    "opened", "acknowledged", "acknowledged_in_time", "resolved", "resolved_in_time",
    "closed", "reopened", "median_ack_s", "complaints", "followups", "followups_satisfied",
)  # fmt: skip

# counted by hand from the fixture's story above
TIANXIN = (2, 2, 2, 1, 1, 1, 1, 1950.0, 2, 2, 1)  # median of 5 min and 60 min
HUANDING = (2, 1, 0, 1, 1, 0, 0, 900.0, 1, 0, 0)
STREET = (4, 3, 2, 2, 2, 1, 1, 900.0, 3, 2, 1)  # median of 5, 15, 60 min


def row(found: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(found[k] for k in FIELDS)


def test_street_month_by_community_equals_hand_counts(month):
    r = month["client"].get("/api/v1/stats/cases", params={**NOV, "by": "community"},
                            headers=month["h"]["street"])  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"], body["by"]) == (
        "2025-10-31T16:00:00.000+00:00", "2025-11-30T16:00:00.000+00:00", "community",
    )  # fmt: skip
    hd, tx = body["groups"]
    assert (hd["group"], hd["name"], tx["group"], tx["name"]) == (
        "huanding",
        "环丁",
        "tianxin",
        "天新",
    )
    assert row(tx) == TIANXIN
    assert row(hd) == HUANDING
    assert row(body["total"]) == STREET
    # rates: Tianxin both signed for in time; of the two due to be handled, A in time
    assert (tx["ack_in_time_rate"], tx["resolved_in_time_rate"]) == (1.0, 0.5)
    assert (tx["closure_rate"], tx["reopen_rate"], tx["satisfaction_rate"]) == (0.5, 0.5, 0.5)
    assert (hd["ack_in_time_rate"], hd["resolved_in_time_rate"]) == (0.0, 0.5)
    assert hd["satisfaction_rate"] is None
    assert "1幢302" not in r.text  # counts only: nothing a resident said


@pytest.mark.parametrize(
    "period",
    [
        {"month": "2025-11"},
        {"from": "2025-11-01", "to": "2025-12-01"},  # local days (Asia/Shanghai)
        {"from": "2025-11-01", "to": "2025-12-01T00:00:00+08:00"},
    ],
)
def test_a_local_month_or_plain_dates_ask_for_the_same_cases(month, period):
    r = month["client"].get("/api/v1/stats/cases", params={**period, "by": "community"},
                            headers=month["h"]["street"])  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == (
        "2025-10-31T16:00:00.000+00:00", "2025-11-30T16:00:00.000+00:00",
    )  # fmt: skip
    assert row(body["total"]) == STREET


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ("grid", {"hd-g1": 2, "tx-g1": 2}),
        ("site", {"hd-home": 1, "hd-shop": 1, "tx-home": 1, "tx-shop": 1}),
        ("rule", {"complaint_noise": 2, "fume_conc": 2}),
    ],
)
def test_other_groupings(month, by, groups):
    body = month["client"].get("/api/v1/stats/cases", params={**NOV, "by": by},
                               headers=month["h"]["street"]).json()  # fmt: skip
    assert {g["group"]: g["opened"] for g in body["groups"]} == groups
    if by == "rule":
        assert [g["name"] for g in body["groups"]] == ["居民投诉 噪声扰民", "油烟超标"]


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("tx", {"tianxin": TIANXIN}),
        ("hd", {"huanding": HUANDING}),
        ("worker", {"tianxin": TIANXIN}),
        # the merchant of Tianxin's shop: case A only
        ("merchant", {"tianxin": (1, 1, 1, 1, 1, 1, 0, 300.0, 1, 1, 1)}),
    ],
)
def test_each_role_counts_its_scope_only(month, who, expected):
    body = month["client"].get("/api/v1/stats/cases", params={**NOV, "by": "community"},
                               headers=month["h"][who]).json()  # fmt: skip
    assert {g["group"]: row(g) for g in body["groups"]} == expected


def test_csv_opens_with_chinese_headers(month):
    r = month["client"].get("/api/v1/stats/cases", params={**NOV, "by": "community",
                            "format": "csv"}, headers=month["h"]["street"])  # fmt: skip
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["社区", "名称", "新开工单", "已签收"]
    assert rows[0][-5:] == ["及时签收率", "按时办结率", "结案率", "重开率", "回访满意率"]
    header = rows[0]
    tx = dict(zip(header, rows[2], strict=True))
    assert (tx["社区"], tx["名称"], tx["新开工单"], tx["重新打开"]) == ("tianxin", "天新", "2", "1")
    assert (tx["签收用时中位数（秒）"], tx["结案率"], tx["重开率"]) == ("1950", "0.5", "0.5")
    hd = dict(zip(header, rows[1], strict=True))
    assert hd["回访满意率"] == ""  # nothing to divide by
    assert rows[-1][:3] == ["", "合计", "4"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"from": "2025-12-01T00:00:00+08:00", "to": "2025-11-01T00:00:00+08:00"}, "is not after"),
        ({"from": "2025-13-01", "to": "2025-12-01T00:00:00+08:00"}, "from: '2025-13-01'"),
        ({**NOV, "by": "street"}, "by"),
        ({"from": "2024-01-01T00:00:00+08:00", "to": "2025-12-01T00:00:00+08:00"}, "366 days"),
        ({"to": "2025-12-01T00:00:00+08:00"}, "from"),
        ({}, "from: required"),
        ({"from": "2025-11-01"}, "to: required"),
        (
            {"from": "2025-02-29", "to": "2025-03-01"},
            "from: '2025-02-29' is not a date that exists",
        ),
        ({"from": "01/11/2025", "to": "2025-12-01"}, "neither a date (YYYY-MM-DD)"),
        ({**NOV, "month": "2025-11"}, "not both"),
        ({"month": "2025-13"}, "month '2025-13'"),
        ({"month": "1969-12"}, "lies outside 1970–2099"),
    ],
)
def test_bad_range_is_422_with_one_sentence(month, params, says):
    r = month["client"].get("/api/v1/stats/cases", params=params, headers=month["h"]["street"])
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, str) and says in detail


def test_the_monthly_messages_link_opens_its_communitys_page_only(month, db):
    """The link of linli/monthly.py signs its reader in as Tianxin's staff, on the page."""
    client = month["client"]
    signer = LinkSigner(db.board_key().encode())
    token = community_token(signer, "tianxin", time.time_ns() // 1_000_000)
    r = client.get(f"/board/stats?month=2025-11&t={token}", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/board/stats?month=2025-11"
    page = client.get("/board/stats?month=2025-11")
    assert page.status_code == 200
    assert "2025年11月 治理统计" in page.text
    assert "天新一网格" in page.text and "环丁" not in page.text
    assert 'data-figure="opened">2<' in page.text and "1幢302" not in page.text
    assert client.get("/board/stats?month=2025-13").status_code == 422
