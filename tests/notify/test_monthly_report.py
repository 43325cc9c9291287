"""`[[report]]` (CONTRACT §10): the last month's figures sent on the 1st at 09:00 local,
exactly once across ticks and a restart, through the outbox to real stand-in servers (a
WeCom group robot and a webhook receiver), with a signed link to the statistics page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linli.channels import build_channels
from linli.community import CommunityError, apply_street, load_street
from linli.monthly import MonthlyReports
from linli.notify.worker import DeliveryWorker
from linli.rules.delivery import DeliveryState
from linli.rules.engine.engine import Engine
from linli.rules.links import COMMUNITIES, LinkSigner, verify
from linli.rules.policy import RulePolicy
from linli.rules.reading import Reading, SensorKind
from linli.rules.routing import ChannelType
from linli.standins import WebhookReceiver, WeComStandIn
from linli.store import Database
from tests.streetfiles import community_toml

TZ = ZoneInfo("Asia/Shanghai")
KEY = b"board-key-of-the-test"


def at(month: int, day: int, hhmm: str) -> int:
    h, m = (int(x) for x in hhmm.split(":"))
    return int(datetime(2025, month, day, h, m, tzinfo=TZ).timestamp() * 1000)


def report_toml(wecom_url: str, webhook_url: str) -> str:
    return f"""
[[channel]]
id = "tx-robot"
type = "wecom"
url = "{wecom_url}"

[[channel]]
id = "tx-city"
type = "webhook"
url = "{webhook_url}"
secret = "city-s3cret"

[[report]]
every = "monthly"
to = ["tx-robot", "tx-city"]
"""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    store = Database(f"sqlite:///{tmp_path}/linli.db")
    yield store
    store.close()


@pytest.fixture
def robot() -> Iterator[WeComStandIn]:
    with WeComStandIn(key="k1") as stand_in:
        yield stand_in


@pytest.fixture
def city() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secret="city-s3cret") as stand_in:
        yield stand_in


class Clock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def street(tmp_path: Path, db: Database, robot: WeComStandIn, city: WebhookReceiver) -> Any:
    folder = tmp_path / "street"
    folder.mkdir()
    extra = report_toml(robot.url, city.url)
    (folder / "a.toml").write_text(
        community_toml("tianxin", "tx", "天新", street=True, extra=extra), encoding="utf-8"
    )
    (folder / "b.toml").write_text(community_toml("huanding", "hd", "环丁"), encoding="utf-8")
    loaded = load_street(folder)
    apply_street(db, loaded)
    return loaded


def open_november_case(db: Database, sensor: str) -> None:
    """A fume case opened on 3 November through the engine (readings over the limit)."""
    engine = Engine(db, RulePolicy())
    t0 = at(11, 3, "12:00")
    for i in range(10):
        r = Reading(
            sensor, SensorKind.FUME, t0 + i * 60_000, i, 60,
            {"oil_fume": 2.5 + i % 3 * 0.01, "fan_on": True},
        )  # fmt: skip
        engine.process([r], r.ts_ms)


def worker_of(db: Database, street: Any, clock: Clock) -> tuple[MonthlyReports, DeliveryWorker]:
    """What `linli serve` builds at start: the reports and the delivery worker."""
    reports = MonthlyReports.of_street(
        db, street, RulePolicy(), "Asia/Shanghai", "http://board.example", LinkSigner(KEY)
    )
    models = [c for m in street.communities for c in m.channel]
    channels = build_channels(models)
    assert not channels.broken
    worker = DeliveryWorker(
        db,
        channels.ready,
        {c.id: ChannelType(c.type) for c in models},
        group_wait_s=0,
        clock=clock,
        before_pass=reports.check,
    )
    return reports, worker


def test_sent_on_the_1st_at_0900_once_across_ticks_and_a_restart(db, street, robot, city):
    open_november_case(db, "f-tx-1")
    open_november_case(db, "f-hd-1")  # the other community's: not in Tianxin's figures
    clock = Clock(at(12, 1, "08:59"))
    _, worker = worker_of(db, street, clock)

    assert worker.run_once() == 0  # 08:59: nothing yet
    assert robot.accepted() == [] and city.accepted() == []

    clock.now_ms = at(12, 1, "09:00")
    assert worker.run_once() == 2  # the robot and the webhook, one message each
    clock.now_ms = at(12, 1, "09:00") + 30_000
    assert worker.run_once() == 0  # a second tick at 09:00

    # a restart: a new worker and new reports, nothing in memory, the same store
    clock.now_ms = at(12, 1, "09:05")
    _, again = worker_of(db, street, clock)
    again.recover()
    assert again.run_once() == 0

    (said,) = robot.accepted()
    text = said.reply.text
    assert "【月度治理统计】天新 2025年11月" in text
    assert "新开工单 1 件；已签收 0 件，及时签收率 0.0%" in text
    assert "结案率 0.0%，重开率 0.0%" in text
    (posted,) = city.accepted()
    body = json.loads(posted.request.body)
    assert (body["event"], body["community"], body["month"]) == (
        "report.monthly",
        "tianxin",
        "2025-11",
    )
    assert body["figures"]["opened"] == 1 and body["figures"]["acknowledged"] == 0
    assert city.deliveries == {body["delivery"]: 1}
    # the link signs its reader in as Tianxin's staff, on the month's statistics page
    link = body["link"]
    assert link.startswith("http://board.example/board/stats?month=2025-11&t=")
    claims = verify(KEY, link.split("&t=", 1)[1], at(12, 1, "09:05") / 1000)
    assert (claims.role, claims.case, claims.extra[COMMUNITIES]) == ("staff", None, ["tianxin"])
    with db.outbox() as box:
        delivered = box.in_state(DeliveryState.DELIVERED)
    assert sorted(d.channel for d in delivered) == ["tx-city", "tx-robot"]
    assert {d.case_id for d in delivered} == {None}  # about no case


def test_nothing_after_the_first_week_nor_before_09(db, street):
    open_november_case(db, "f-tx-1")
    reports, _ = worker_of(db, street, Clock(0))
    assert reports.check(at(12, 8, "09:00")) == 0  # a week late: last month's is left
    assert reports.check(at(12, 1, "08:59")) == 0
    assert reports.check(at(12, 3, "10:00")) == 2  # linli was down on the 1st: it catches up
    assert reports.check(at(12, 3, "10:01")) == 0


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('[[report]]\nevery = "weekly"\nto = ["tx-office"]\n', "every"),
        ('[[report]]\nevery = "monthly"\nto = ["nowhere"]\n', "'nowhere' is not a [[channel]] id"),
        ('[[report]]\nevery = "monthly"\nto = []\n', "to"),
        (
            '[[report]]\nevery = "monthly"\nto = ["tx-office"]\n'
            '[[report]]\nevery = "monthly"\nto = ["tx-office"]\n',
            "'monthly' is another [[report]]'s already",
        ),
    ],
)
def test_a_wrong_report_table_is_named(tmp_path, table, says):
    path = tmp_path / "a.toml"
    path.write_text(community_toml("tianxin", "tx", "天新", extra=table), encoding="utf-8")
    with pytest.raises(CommunityError) as err:
        load_street(path)
    assert "report" in str(err.value) and says in str(err.value)
