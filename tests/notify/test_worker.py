"""The outbox and its delivery worker, on a real SQLite store and the robot stand-ins.

A case change's deliveries are written in its transaction by the outbox teller; the
worker sends them, groups a burst for one recipient into one digest naming every case,
keeps a robot under 20 messages a minute, retries what the service asks to retry, and
after a crash sends again what was in flight (but an SMS)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from linli.notify.dingtalk import DingTalkRobot
from linli.notify.sms import AliyunSms
from linli.notify.worker import DeliveryWorker
from linli.rules.case import Action, Case, CaseKind, Level, apply, open_case
from linli.rules.delivery import DeliveryState
from linli.rules.engine.decide import CaseChange
from linli.rules.engine.telling import OutboxTeller
from linli.rules.registry import Contact
from linli.rules.routing import Audience, ChannelType, Directory
from linli.standins import AliyunSmsStandIn, DingTalkStandIn
from linli.store import Database
from tests.helpers import wait_for

T0 = time.time_ns() // 1_000_000  # the stand-in checks a signature's time against its own
WANG = Contact("王丽", channels={"ding": "13800000001", "sms": "13800000001"})


class Clock:
    def __init__(self) -> None:
        self.ms = T0

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    store = Database(f"sqlite:///{tmp_path}/linli.db")
    yield store
    store.close()


@pytest.fixture
def robot() -> Iterator[DingTalkStandIn]:
    with DingTalkStandIn(token="t", secret="SECx") as stand_in:
        yield stand_in


def directory(sites: list[str]) -> Directory:
    return Directory(
        channels={"ding": ChannelType.DINGTALK},
        audiences={
            (s, Level.GRID_WORKER): Audience(Level.GRID_WORKER, "东网格 网格员", (WANG,), ("ding",))
            for s in sites
        },
    )


def teller(sites: list[str]) -> OutboxTeller:
    names = {s: f"店{s}" for s in sites}
    return OutboxTeller(
        lambda: directory(sites), lambda: names, "http://x", ZoneInfo("Asia/Shanghai")
    )


def open_cases(db: Database, t: OutboxTeller, sites: list[str], at_ms: int) -> list[int]:
    ids = []
    with db.cases() as tx:
        for site in sites:
            new = Case(
                site,
                "g",
                "device_offline",
                CaseKind.DEVICE,
                f"n-{site}",
                f"店{site}: 设备离线",
                at_ms,
                first_level=Level.GRID_WORKER,
            )
            opened, entry = open_case(new)
            case = tx.insert_case(opened)
            assert case.id is not None
            tx.add_timeline(case.id, entry)
            t.tell(tx, [CaseChange(case, entry)])
            ids.append(case.id)
    return ids


def worker(db: Database, robot: DingTalkStandIn, clock: Clock, **kw) -> DeliveryWorker:
    channels = {
        "ding": DingTalkRobot("ding", robot.url, robot.secret, clock=lambda: clock.ms / 1000)
    }
    return DeliveryWorker(db, channels, {"ding": ChannelType.DINGTALK}, clock=clock, **kw)


def test_one_case_is_sent_at_once_mentioning_the_worker_and_on_the_timeline(db, robot):
    clock = Clock()
    t = teller(["s1"])
    (case_id,) = open_cases(db, t, ["s1"], T0)
    assert worker(db, robot, clock).run_once() == 1
    (call,) = robot.accepted()
    assert "【新工单】店s1: 设备离线" in call.reply.text
    assert "http://x/board/cases/" in call.reply.text
    assert call.reply.mentions == ("13800000001",)
    with db.outbox() as box:
        (d,) = box.of_case(case_id)
    assert d.state is DeliveryState.DELIVERED and d.attempts == 1 and "errcode 0" in d.detail
    with db.cases() as tx:
        told = [e for e in tx.detail(case_id).timeline if e.action is Action.TELL]
    assert len(told) == 1 and "ding" in told[0].note and "delivered" in told[0].note


def test_a_burst_for_one_robot_becomes_digests_naming_every_case_never_over_20_a_minute(db, robot):
    clock = Clock()
    sites = [f"s{i}" for i in range(400)]
    t = teller(sites)
    w = worker(db, robot, clock)
    ids = open_cases(db, t, sites, T0)
    sent_at = []
    while True:
        with db.outbox() as box:
            if not box.due(10**15):
                break
        sent_at += [clock.ms] * w.run_once()
        clock.ms += 1000
        assert clock.ms - T0 < 3_600_000, "not all delivered within an hour"
    calls = robot.accepted()
    assert len(calls) == len(sent_at)
    for i, at in enumerate(sent_at):  # any minute: at most 20
        assert sum(1 for b in sent_at[i:] if b - at < 60_000) <= 20
    named = "".join(c.reply.text for c in calls)
    assert all(
        f"[#{i}](http://x/board/cases/{i})" in named or f"/board/cases/{i})" in named for i in ids
    )
    assert len(calls) < 40  # a handful of digests, not 400 messages


def test_too_fast_is_retried_later_and_delivered(db, robot):
    clock = Clock()
    t = teller(["s1"])
    (case_id,) = open_cases(db, t, ["s1"], T0)
    w = worker(db, robot, clock)
    robot.too_fast(True)
    w.run_once()
    with db.outbox() as box:
        (d,) = box.of_case(case_id)
    assert d.state is DeliveryState.PENDING and d.due_ms >= clock.ms + 600_000  # 130101: 10 min
    robot.too_fast(False)
    clock.ms = d.due_ms
    assert w.run_once() == 1
    with db.outbox() as box:
        (d,) = box.of_case(case_id)
    assert d.state is DeliveryState.DELIVERED and d.attempts == 2
    with db.cases() as tx:
        notes = [e.note for e in tx.detail(case_id).timeline if e.action is Action.TELL]
    assert "retry" in notes[0] and "130101" in notes[0] and "delivered" in notes[1]


def test_a_wrong_secret_fails_for_a_person_and_health_says_why(db, robot):
    clock = Clock()
    t = teller(["s1"])
    (case_id,) = open_cases(db, t, ["s1"], T0)
    channels = {"ding": DingTalkRobot("ding", robot.url, "SECwrong", clock=lambda: clock.ms / 1000)}
    w = DeliveryWorker(db, channels, {"ding": ChannelType.DINGTALK}, clock=clock)
    w.run_once()
    with db.outbox() as box:
        (d,) = box.in_state(DeliveryState.FAILED)
    assert d.case_id == case_id and "310000" in d.detail
    health = w.health()["ding"]
    assert not health.ok and "310000" in health.detail


def test_after_a_crash_what_was_in_flight_is_sent_again_but_an_sms_is_not(db, robot):
    clock = Clock()
    sms_directory = Directory(
        channels={"ding": ChannelType.DINGTALK, "sms": ChannelType.SMS},
        audiences={
            ("s1", Level.GRID_WORKER): Audience(
                Level.GRID_WORKER, "东网格 网格员", (WANG,), ("ding",)
            )
        },
    )
    t = OutboxTeller(
        lambda: sms_directory, lambda: {"s1": "店s1"}, "http://x", ZoneInfo("Asia/Shanghai")
    )
    (case_id,) = open_cases(db, t, ["s1"], T0)
    with db.outbox() as box:
        pending = box.of_case(case_id)
        assert sorted(d.channel for d in pending) == ["ding", "sms"]
        box.set_state([d.id for d in pending], DeliveryState.SENDING)  # the kill -9
    with AliyunSmsStandIn() as aliyun:
        sms = AliyunSms(
            "sms",
            aliyun.url,
            aliyun.access_key_id,
            aliyun.access_key_secret,
            "天新社区",
            "SMS_000000",
        )
        w = DeliveryWorker(
            db,
            {"ding": DingTalkRobot("ding", robot.url, robot.secret), "sms": sms},
            {"ding": ChannelType.DINGTALK, "sms": ChannelType.SMS},
            clock=clock,
        )
        w.recover()
        w.run_once()
        assert aliyun.accepted() == []
    with db.outbox() as box:
        by_channel = {d.channel: d for d in box.of_case(case_id)}
    assert by_channel["ding"].state is DeliveryState.DELIVERED
    assert by_channel["sms"].state is DeliveryState.FAILED
    assert "not idempotent" in by_channel["sms"].detail
    assert len(robot.accepted()) == 1


def test_an_acknowledge_tells_everyone_told_before_and_a_comment_nobody(db):
    t = teller(["s1"])
    (case_id,) = open_cases(db, t, ["s1"], T0)
    with db.cases() as tx:
        case = tx.get(case_id)
        moved, entry = apply(case, Action.ACKNOWLEDGE, T0 + 1000, "grid_worker", "到场")
        tx.update_case(moved, entry)
        t.tell(tx, [CaseChange(moved, entry)])
        again, note = apply(moved, Action.COMMENT, T0 + 2000, "grid_worker", "已联系")
        tx.update_case(again, note)
        t.tell(tx, [CaseChange(again, note)])
    with db.outbox() as box:
        events = [d.event for d in box.of_case(case_id)]
    assert events == ["case.opened", "case.acknowledged"]


def test_each_outcome_is_reported_to_the_callback_and_a_failing_callback_stops_nothing(db, robot):
    """The root wires the callback to InfluxDB's `delivery` points (the dashboards)."""
    clock = Clock()
    t = teller(["s1", "s2"])
    (first,) = open_cases(db, t, ["s1"], T0)
    reported: list[tuple[list[int], str, str, int]] = []

    def on_outcome(items, outcome: str, detail: str, at_ms: int) -> None:
        reported.append(([d.case_id for d in items], outcome, detail, at_ms))

    w = worker(db, robot, clock, on_outcome=on_outcome)
    robot.too_fast(True)
    w.run_once()
    robot.too_fast(False)
    clock.ms += 700_000
    w.run_once()
    assert [(ids, outcome) for ids, outcome, _, _ in reported] == [
        ([first], "retry"),
        ([first], "delivered"),
    ]
    assert "130101" in reported[0][2] and reported[1][3] == clock.ms

    def broken(*_args) -> None:
        raise OSError("InfluxDB is down")

    (second,) = open_cases(db, t, ["s2"], clock.ms)
    clock.ms += 60_000
    assert worker(db, robot, clock, on_outcome=broken).run_once() == 1
    with db.outbox() as box:
        (d,) = box.of_case(second)
    assert d.state is DeliveryState.DELIVERED


def test_a_backlog_over_one_digest_is_sent_at_once_in_digests_not_a_group_wait_apart(db, robot):
    clock = Clock()
    sites = [f"s{i}" for i in range(250)]
    ids = open_cases(db, teller(sites), sites, T0)
    assert worker(db, robot, clock).run_once() == 3  # 100 + 100 + 50, in one pass
    calls = robot.accepted()
    assert [c.reply.text.count("](http://x/board/cases/") for c in calls] == [101, 101, 51]
    with db.outbox() as box:
        assert box.due(10**15) == []
    assert all(f"/board/cases/{i})" in "".join(c.reply.text for c in calls) for i in ids)


def test_the_backoff_ceiling_is_a_parameter():
    from linli.rules.delivery import retry_in_s

    assert [retry_in_s(n, most_s=8.0) <= 8.0 for n in range(1, 10)] == [True] * 9
    assert retry_in_s(9) > 8.0  # 10 min by default: half of it at least
    assert retry_in_s(3, asked_s=30.0, most_s=8.0) == 30.0  # what the service asked wins


def test_reminders_come_every_remind_s_until_acknowledged(db):
    t = OutboxTeller(
        lambda: directory(["s1"]), lambda: {"s1": "店s1"}, "http://x", ZoneInfo("Asia/Shanghai"),
        remind_s=60,
    )  # fmt: skip
    (case_id,) = open_cases(db, t, ["s1"], T0)
    with db.cases() as tx:
        case = tx.get(case_id)
        assert t.reminders(tx, [case], {}, T0 + 59_000) == []
        (due,) = t.reminders(tx, [case], {}, T0 + 60_000)
        assert due.event == "case.reminder" and due.title.startswith("【工单催办】")
        acked, _ = apply(case, Action.ACKNOWLEDGE, T0 + 61_000, "grid_worker")
        assert t.reminders(tx, [acked], {}, T0 + 3_600_000) == []


class Gate:
    """The notifier's lease as the worker sees it (`active=`): held or not, and how
    often the worker asked."""

    def __init__(self) -> None:
        self.held = False
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.held


def test_in_a_cluster_only_the_active_notifier_sends_and_taking_over_it_sends_what_waited(
    db, robot
):
    # CONTRACT §12: one notifier sends, the others stand by; a standby taking over sends
    # what is pending and what the last holder left `sending` when it died
    clock = Clock()
    t = teller(["s1", "s2"])
    waiting, in_flight = open_cases(db, t, ["s1", "s2"], T0)
    with db.outbox() as box:
        (left,) = box.of_case(in_flight)
        box.set_state([left.id], DeliveryState.SENDING)  # the last holder died sending it
    gate = Gate()
    standby = worker(db, robot, clock, poll_s=0.02, active=gate).start()
    try:
        wait_for(lambda: gate.asked >= 10 or robot.accepted())  # passes standing by
        assert robot.accepted() == []
        with db.outbox() as box:
            states = [d.state for c in (waiting, in_flight) for d in box.of_case(c)]
        assert states == [DeliveryState.PENDING, DeliveryState.SENDING]
        gate.held = True  # the lease is this worker's now
        standby.wake()

        def delivered() -> list[DeliveryState]:
            with db.outbox() as box:
                return [d.state for c in (waiting, in_flight) for d in box.of_case(c)]

        wait_for(lambda: delivered() == [DeliveryState.DELIVERED] * 2)
    finally:
        standby.stop()
    texts = "".join(call.reply.text for call in robot.accepted())
    assert "店s1" in texts and "店s2" in texts
