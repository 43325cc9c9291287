"""`linli demo`'s telling: the bundled community's channels on the demo's stand-ins.

The KTV's night case reaches the merchant (the KTV's WeCom chat @-mentioning 韩磊, his
SMS) at once; unacknowledged for the demo's two minutes it climbs to the grid, whose
DingTalk chat @-mentions both workers by mobile; each message printed as read. The whole
demo takes minutes to get there, so this runs its parts: the stand-ins and variables
(linli/demochannels.py), the notifier as the demo starts it, the demo's policy.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.community import load_community
from linli.demo import UNACKNOWLEDGED_S, demo_policy
from linli.demochannels import Printer, StandIns, names_of, start_standins
from linli.influx.client import InfluxClient
from linli.notifying import start_notifier
from linli.rules.case import Case, CaseKind, Level, open_case
from linli.rules.engine.decide import NOTHING, CaseChange, age
from linli.rules.policy import RulePolicy
from linli.settings import Settings
from linli.store import Database
from linli.wiring import open_store
from tests.helpers import wait_for

# the demo's community file (installed as package data, linli.data: linli demo --check)
COMMUNITY = Path(__file__).resolve().parents[1] / "community" / "tianxin.toml"

KTV, KTV_GRID = "ktv-huanchang", "g-tc-north"


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIns]:
    started = start_standins(load_community(COMMUNITY))
    for name, value in started.environ.items():
        monkeypatch.setenv(name, value)
    yield started
    started.stop()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    settings = Settings(db_url=f"sqlite:///{tmp_path}/linli.db")
    store = open_store(settings, COMMUNITY)
    yield store
    store.close()


def test_every_channel_of_the_bundled_community_has_a_stand_in_and_its_variables(
    stand_ins: StandIns,
) -> None:
    community = load_community(COMMUNITY)
    assert set(stand_ins.http) | set(stand_ins.mail) == {c.id for c in community.channel}
    assert not stand_ins.skipped
    needed = {
        v.removeprefix("env:")
        for c in community.channel
        for v in c.model_dump().values()
        if isinstance(v, str) and v.startswith("env:")
    }
    assert set(stand_ins.environ) == needed
    assert stand_ins.environ["LINLI_TIANXIN_DING_TC_NORTH_URL"].startswith("http://127.0.0.1:")


def test_the_demo_escalates_an_unacknowledged_case_after_two_minutes() -> None:
    policy = demo_policy(RulePolicy())
    assert policy.escalation.unacknowledged_s == UNACKNOWLEDGED_S == 120
    opened, _ = open_case(_ktv_case(0))
    assert age(opened, policy, (UNACKNOWLEDGED_S - 1) * 1000) is NOTHING
    (change,) = age(opened, policy, UNACKNOWLEDGED_S * 1000).changes
    assert change.case.level is Level.GRID_WORKER


def test_the_ktv_night_case_reaches_the_merchant_then_unacknowledged_the_grid_workers(
    stand_ins: StandIns, db: Database, tmp_path: Path, influx_url: str, influx_db: str
) -> None:
    settings = Settings(db_url=f"sqlite:///{tmp_path}/linli.db")
    influx = InfluxClient(influx_url, influx_db)
    influx.ensure_database("400d")
    notifier = start_notifier(db, settings, COMMUNITY, influx=influx)
    out = io.StringIO()
    printer = Printer(stand_ins.delivered, names_of(load_community(COMMUNITY)), out)
    try:
        assert notifier.channels.broken == {}
        # opened the demo's two minutes ago (a delivery is due at its entry's time)
        now_ms = time.time_ns() // 1_000_000
        opened_ms = now_ms - UNACKNOWLEDGED_S * 1000
        with db.cases() as tx:
            case, entry = open_case(_ktv_case(opened_ms))
            case = tx.insert_case(case)
            assert case.id is not None
            tx.add_timeline(case.id, entry)
            notifier.teller.tell(tx, [CaseChange(case, entry)])
        merchant = stand_ins.http["wecom-huanchang"]
        wait_for(lambda: merchant.accepted() and stand_ins.http["sms"].accepted(), 10)
        assert stand_ins.http["ding-tc-north"].accepted() == []  # the grid not yet
        # unacknowledged for the demo's two minutes: the engine's tick now escalates it
        policy = demo_policy(RulePolicy())
        with db.cases() as tx:
            changes = age(tx.get(case.id), policy, now_ms).changes
            assert [c.case.level for c in changes] == [Level.GRID_WORKER]
            for change in changes:
                tx.update_case(change.case, change.entry)
            notifier.teller.tell(tx, list(changes))
        grid = stand_ins.http["ding-tc-north"]
        wait_for(lambda: grid.accepted(), 10)
        wait_for(lambda: len(stand_ins.http["sms"].accepted()) == 3, 10)
    finally:
        notifier.stop()
    printer.print_new()

    (to_merchant,) = merchant.accepted()
    assert to_merchant.reply.mentions == ("13900000112",)
    assert "【新工单】欢唱KTV: 夜间突发噪声" in to_merchant.reply.text
    (to_grid,) = grid.accepted()
    assert to_grid.reply.mentions == ("13800000004", "13800000005")
    assert "【工单升级】欢唱KTV: 夜间突发噪声" in to_grid.reply.text
    assert to_merchant.at < to_grid.at
    numbers = [c.reply.mentions for c in stand_ins.http["sms"].accepted()]
    assert numbers[0] == ("13900000112",)
    assert sorted(numbers[1:]) == [("13800000004",), ("13800000005",)]
    # nobody else was told: the other grids' chats, the community office, e-mail
    others = [cid for cid, s in stand_ins.http.items() if s.accepted()]
    assert sorted(others) == ["ding-tc-north", "sms", "wecom-huanchang"]
    assert all(not m.mails for m in stand_ins.mail.values())

    printed = out.getvalue()
    heads = re.findall(r"^\[demo\] ▶ (.*)$", printed, re.M)
    assert (
        heads[0]
        == "企业微信群 wecom-huanchang（欢唱KTV（欢唱娱乐有限公司））  @13900000112（韩磊）"
    )
    assert (
        "钉钉群 ding-tc-north（红街天城北网格）  @13800000004（张伟）  @13800000005（刘洋）"
        in heads
    )
    assert heads.index("短信 → 13900000112（韩磊）") < heads.index("短信 → 13800000004（张伟）")
    assert "    【天新社区】欢唱KTV: 工单升级" in printed
    assert printed.count("【工单升级】欢唱KTV: 夜间突发噪声") == 1  # the title once, not twice

    # and each outcome is a `delivery` point for the dashboards (influx/deliveries.py)
    series = influx.query('SELECT count("case_id") FROM "delivery" GROUP BY "channel", "outcome"')
    got = {(s.tags["channel"], s.tags["outcome"]): s.values[0][1] for s in series}
    assert got == {
        ("wecom-huanchang", "delivered"): 1,
        ("sms", "delivered"): 3,
        ("ding-tc-north", "delivered"): 1,
    }
    influx.close()


def _ktv_case(opened_ms: int) -> Case:
    return Case(
        KTV,
        KTV_GRID,
        "noise_night_max",
        CaseKind.BREACH,
        "n-ktv-01",
        "欢唱KTV: 夜间突发噪声 night noise peaks",
        opened_ms,
        first_level=Level.MERCHANT,
    )
