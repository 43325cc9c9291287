"""What telling must show, end to end: readings and last wills through MQTT into
`linli serve` (a subprocess: ingest, the engine's process, the API and the delivery
worker) on a real mosquitto, influxd and SQLite, its channels the local stand-ins of
DingTalk, WeCom, Feishu, Aliyun SendSms, a city webhook and an SMTP server, named by a
community file with `[[channel]]` tables whose secrets are `env:` variables.

What is asserted is what the stand-ins recorded (the text as its reader reads it, who
was @-mentioned), GET /cases/{id}/deliveries, GET /deliveries?state=, /health's
channels and the cases' `tell` timeline entries.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from linli.community import CommunityError, load_community
from linli.influx.client import InfluxClient
from linli.standins import (
    AliyunSmsStandIn,
    DingTalkStandIn,
    FeishuStandIn,
    MailServer,
    WebhookReceiver,
    WeComStandIn,
)
from tests.helpers import WAIT_S, Publisher, count, wait_for
from tests.notify.community import MERCHANT, WORKERS, File
from tests.notify.serve import Serve

MIN = 60_000
SHOP = ("rest-1", "蜀味小馆")
WORKER_PHONES = tuple(phone for _, phone, _ in WORKERS)


@pytest.fixture
def influx(influx_url: str, influx_db: str) -> Iterator[InfluxClient]:
    client = InfluxClient(influx_url, influx_db)
    client.ensure_database("400d")
    yield client
    client.close()


@pytest.fixture
def pub(mqtt_url: str, topic_prefix: str) -> Iterator[Publisher]:
    publisher = Publisher(mqtt_url, f"pub-{topic_prefix.split('/')[0]}")
    yield publisher
    publisher.close()


@pytest.fixture
def serve_for(
    tmp_path: Path, mqtt_url: str, influx_url: str, influx_db: str, topic_prefix: str
) -> Iterator[Any]:
    """Write the community file, return a (not started) `linli serve` on it."""
    made: list[Serve] = []

    def make(community: File, env: dict[str, str]) -> Serve:
        config = tmp_path / "community.toml"
        config.write_text(community.text(), encoding="utf-8")
        serve = Serve(
            tmp_path,
            config,
            mqtt_url=mqtt_url,
            influx_url=influx_url,
            influx_db=influx_db,
            topic_prefix=topic_prefix,
            env=env,
        )
        made.append(serve)
        return serve

    yield make
    for serve in made:
        serve.close()


def fume_breach(now_ms: int, n: int = 12) -> dict[str, Any]:
    """A kitchen over GB 18483's 2 mg/m³ for the last `n` minutes (the case opens at the
    8th reading: 75 % of the 10-minute window); varying, or the sensor would be stuck."""
    return {
        "batch": [
            {
                "ts": now_ms - (n - i) * MIN,
                "seq": i + 1,
                "period_s": 60,
                "metrics": {
                    "oil_fume": 2.6 + i % 3 * 0.01,
                    "fan_on": True,
                    "purifier_on": True,
                    "purifier_current": 2.0,
                },
            }
            for i in range(n)
        ]
    }


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def one_case(serve: Serve, site: str, rule: str = "fume_conc") -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for c in serve.cases():
            if c["site"] == site and c["rule"] == rule:
                return c
        return None

    case: dict[str, Any] = wait_for(found)
    return case


def settled(serve: Serve, case_id: int, n: int) -> list[dict[str, Any]]:
    """The case's deliveries once there are `n`, none pending or sending."""

    def done() -> list[dict[str, Any]] | None:
        found = serve.deliveries(case_id)
        if len(found) == n and all(d["state"] in ("delivered", "failed") for d in found):
            return found
        return None

    result: list[dict[str, Any]] = wait_for(done, every_s=0.2)
    return result


# -- 1. the merchant, then the grid worker; acknowledge; resolve and reopen ---------------

ESCALATE_S = 8
REMIND_S = 4


def test_a_shops_case_reaches_the_merchant_then_the_grid_and_everyone_told_hears_what_follows(
    serve_for, pub, influx, topic_prefix
):
    with (
        DingTalkStandIn(token="shop-token", secret="SEC-shop") as ding,
        WeComStandIn(key="grid-key") as wecom,
        FeishuStandIn(token="office", secret="feishu-s3cret") as office,
        AliyunSmsStandIn(
            access_key_id="LTAI-e2e", access_key_secret="sk-e2e", per_number_per_min=100
        ) as sms,
        MailServer() as smtp,
    ):
        community = File(
            rules={
                "escalate_unacknowledged_s": ESCALATE_S,
                "escalate_unresolved_s": [3600, 7200],
                "remind_unacknowledged_s": REMIND_S,
            },
            channels=[
                {"id": "ding-shop", "type": "dingtalk", "url": ding.url, "secret": "env:E2E_DING"},
                {"id": "wecom-grid", "type": "wecom", "url": "env:E2E_WECOM_URL"},
                {"id": "office", "type": "feishu", "url": office.url, "secret": "env:E2E_FS"},
                {"id": "mail", "type": "email", "url": smtp.url, "from": "红街社区 <linli@e2e>"},
                {
                    "id": "sms",
                    "type": "sms",
                    "url": sms.url,
                    "access_key_id": "env:E2E_AK",
                    "access_key_secret": "env:E2E_SK",
                    "sign_name": "天新社区",
                    "template": "SMS_000000",
                },
            ],
            grid_notify=["wecom-grid"],
            worker_channels={"wecom-grid": "phone", "mail": "email"},
            shops=[(*SHOP, ["ding-shop"]), ("rest-2", "川香面馆", [])],
            merchant_channels={"ding-shop": "phone", "sms": "phone"},
            residential=["probe"],
            community_notify=["office"],
        )
        env = {
            "E2E_DING": "SEC-shop",
            "E2E_WECOM_URL": wecom.url,
            "E2E_FS": "feishu-s3cret",
            "E2E_AK": "LTAI-e2e",
            "E2E_SK": "sk-e2e",
            "LINLI_NOTIFY_GROUP_WAIT_S": "1",
        }
        serve = serve_for(community, env).start()
        serve.ingesting(pub, "n-probe", influx)
        health = serve.get("/health")["channels"]
        assert sorted(health) == ["ding-shop", "mail", "office", "sms", "wecom-grid"]
        assert all(part["ok"] for part in health.values()), health

        # the breach opens the case at the merchant: their robot (the contact @-mentioned)
        # and their SMS within seconds
        pub.send(f"{topic_prefix}/f-rest-1/telemetry", fume_breach(now_ms()))
        case = one_case(serve, "rest-1")
        case_id = case["id"]
        assert (case["level"], case["state"]) == ("merchant", "open")
        opened = wait_for(lambda: ding.accepted())[0]
        texted = wait_for(lambda: sms.accepted())[0]
        for call in (opened, texted):
            assert 0 <= call.at * 1000 - case["opened_ms"] < WAIT_S * 1000, "not told"
        _, phone = MERCHANT
        assert opened.reply.mentions == (phone,)
        text = opened.reply.text
        for expected in (
            "【新工单】蜀味小馆",
            "限值 2 mg/m³",
            "GB 18483-2001",
            "请立即检查并整改",
            f"http://board.example/board/cases/{case_id}",
        ):
            assert expected in text, (expected, text)
        assert re.search(r"测得 2\.6\d mg/m³", text), text  # the window's mean, to 0.01
        assert texted.reply.mentions == (phone,)
        assert texted.reply.text.startswith("【天新社区】蜀味小馆")
        assert wecom.calls == [] and smtp.mails == []  # the grid is not told yet

        # a second shop's case, which its merchant acknowledges at once: it never climbs
        pub.send(f"{topic_prefix}/f-rest-2/telemetry", fume_breach(now_ms()))
        other = one_case(serve, "rest-2")
        serve.act(other["id"], "acknowledge", "马上处理")

        # nobody acknowledges: reminded at the merchant's level, then escalated; the
        # grid's group gets one message @-mentioning both workers, the worker an e-mail
        escalated = wait_for(lambda: wecom.accepted(), timeout_s=ESCALATE_S + 10)
        assert len(escalated) == 1
        (grid_call,) = escalated
        assert grid_call.reply.mentions == WORKER_PHONES
        for expected in ("【工单升级】蜀味小馆", "商户未签收（自", "请到场核查"):
            assert expected in grid_call.reply.text, (expected, grid_call.reply.text)
        mail = wait_for(lambda: smtp.mails)[0]
        assert mail.rcpt_tos == ("wangli@grid.example",) and "工单升级" in mail.subject
        assert serve.get(f"/cases/{case_id}")["level"] == "grid_worker"
        reminded = [c for c in ding.accepted() if "【工单催办】" in c.reply.text]
        assert reminded, "the merchant was reminded before the escalation"

        # the grid worker acknowledges: the ladder and the reminders stop; the merchant's
        # and the grid's channels hear it
        serve.act(case_id, "acknowledge", "已到场")
        acked_ms = now_ms()
        assert len(wecom.accepted()) == 1, "the grid's group got one message before the ack"
        told = settled(serve, case_id, len(serve.deliveries(case_id)))
        ack = [d for d in told if d["event"] == "case.acknowledged"]
        assert sorted(d["channel"] for d in ack) == ["ding-shop", "mail", "sms", "wecom-grid"]
        assert all(d["state"] == "delivered" for d in told), told
        # proving an absence needs the time to pass: two reminder periods and a tick
        time.sleep(2 * REMIND_S + 1)
        after = [d for d in serve.deliveries(case_id) if d["created_ms"] > acked_ms]
        assert after == [], "nothing told after the acknowledge"
        assert serve.get(f"/cases/{case_id}")["level"] == "grid_worker"
        assert office.calls == []  # the community office was never reached
        # the other case, older now than the escalation time, acknowledged in time
        assert now_ms() - other["opened_ms"] > ESCALATE_S * 1000
        assert serve.get(f"/cases/{other['id']}")["level"] == "merchant"
        events = [d["event"] for d in serve.deliveries(other["id"])]
        assert events == ["case.opened", "case.acknowledged"]  # by SMS: no reminder, no climb

        # resolve and reopen: everyone told before (the merchant and the grid worker)
        for action, headline in (("resolve", "【工单已办结】"), ("reopen", "【工单重新打开】")):
            before = len(serve.deliveries(case_id))
            serve.act(case_id, action, f"{action} by e2e")
            told = settled(serve, case_id, before + 4)[before:]
            assert sorted(d["channel"] for d in told) == ["ding-shop", "mail", "sms", "wecom-grid"]
            who = {d["channel"]: d["who"] for d in told}
            assert (who["ding-shop"], who["wecom-grid"]) == ("蜀味小馆", "红街一网格 网格员")
            assert all(d["state"] == "delivered" for d in told), told
            for robot, mentioned in ((ding, (phone,)), (wecom, WORKER_PHONES)):
                last = robot.accepted()[-1]
                assert headline in last.reply.text and last.reply.mentions == mentioned
        assert len(wecom.accepted()) == 4  # escalated, acknowledged, resolved, reopened
        subjects = [m.subject for m in smtp.mails]
        assert [s.split("】")[0] for s in subjects] == [
            "【工单升级", "【工单已签收", "【工单已办结", "【工单重新打开"
        ]  # fmt: skip

        # the timeline: one `tell` entry per delivery, each delivered
        notes = serve.tells(case_id)
        deliveries = serve.deliveries(case_id)
        assert len(notes) == len(deliveries)
        assert all(": delivered: " in n for n in notes), notes
        assert any(n.startswith("case.escalated → wecom-grid") for n in notes)
        assert "13800000001, 13800000002" in next(n for n in notes if "wecom-grid" in n)


# -- 2. a channel down for a minute, linli killed and restarted in between ---------------

OUTAGE_S = 60
LINK = re.compile(r"/board/cases/(\d+)[?)]")  # a signed link: ?t=<token> after the id


def heard(pub: Publisher, topic_prefix: str, sensors: list[str], influx: InfluxClient) -> None:
    """One quiet reading from each sensor, stored: a sensor linli never heard from is not
    taken offline by a will (rules/judge.py)."""
    ts = now_ms() - MIN
    body = {"ts": ts, "seq": 1, "period_s": 60, "metrics": {"laeq": 45.0}}
    pub.send_many((f"{topic_prefix}/{s}/telemetry", body) for s in sensors)
    where = f"WHERE time = {ts}ms"
    wait_for(lambda: count(influx, "noise", "laeq", where) == len(sensors))


def offline(pub: Publisher, topic_prefix: str, sensors: list[str]) -> None:
    """Each sensor's status: offline, now (what its last will would say)."""
    ts = now_ms()
    pub.send_many((f"{topic_prefix}/{s}/status", {"online": False, "ts": ts}) for s in sensors)


def test_a_channel_down_for_a_minute_across_a_kill_9_delivers_everything_at_most_twice(
    serve_for, pub, influx, topic_prefix
):
    buildings = [f"b{i}" for i in range(1, 7)]
    with (
        DingTalkStandIn(token="grid-token", secret="SEC-grid") as ding,
        WebhookReceiver(secret="city-s3cret") as city,
    ):
        community = File(
            channels=[
                {"id": "ding-grid", "type": "dingtalk", "url": ding.url, "secret": "env:E2E_DING"},
                {"id": "city", "type": "webhook", "url": city.url, "secret": "env:E2E_CITY"},
            ],
            grid_notify=["ding-grid", "city"],
            worker_channels={"ding-grid": "phone"},
            residential=["probe", *buildings],
        )
        env = {
            "E2E_DING": "SEC-grid",
            "E2E_CITY": "city-s3cret",
            "LINLI_NOTIFY_GROUP_WAIT_S": "2",
            "LINLI_NOTIFY_RETRY_MOST_S": "8",
        }
        serve = serve_for(community, env).start()
        serve.ingesting(pub, "n-probe", influx)
        heard(pub, topic_prefix, [f"n-{b}" for b in buildings], influx)
        ding.fail_for(OUTAGE_S)
        city.fail_for(OUTAGE_S)
        down_until = time.monotonic() + OUTAGE_S

        # three cases open while the channels answer HTTP 500: each delivery tried and
        # set to retry (on the timeline), then linli is killed
        offline(pub, topic_prefix, [f"n-{b}" for b in buildings[:3]])

        def retried(n: int) -> list[dict[str, Any]] | None:
            found = [c for c in serve.cases() if c["rule"] == "device_offline"]
            if len(found) < n:
                return None
            tried = [d for c in found for d in serve.deliveries(c["id"])]
            ok = len(tried) == 2 * n and all(d["attempts"] >= 1 for d in tried)
            return found if ok else None

        wait_for(lambda: retried(3), every_s=0.2)
        serve.kill9()

        # three more open after the restart, the channels still down
        serve.start()
        offline(pub, topic_prefix, [f"n-{b}" for b in buildings[3:]])
        opened = wait_for(lambda: retried(6), every_s=0.2)
        assert time.monotonic() < down_until, "the outage ended before every case was tried"
        assert ding.accepted() == [] and city.accepted() == []

        # once the channels are back, everything arrives
        def all_delivered() -> list[dict[str, Any]] | None:
            found = [d for c in opened for d in serve.deliveries(c["id"])]
            return found if all(d["state"] == "delivered" for d in found) else None

        deliveries = wait_for(all_delivered, timeout_s=OUTAGE_S + WAIT_S, every_s=0.5)
        assert len(deliveries) == 12  # 6 cases × (the grid's robot, the city)

        # none more than twice: the webhook receiver by `delivery`, the robot by case named
        webhook_keys = {d["key"] for d in deliveries if d["channel"] == "city"}
        assert set(city.deliveries) == webhook_keys
        assert max(city.deliveries.values()) <= 2, city.deliveries
        named = Counter(int(m) for c in ding.accepted() for m in set(LINK.findall(c.reply.text)))
        assert sorted(named) == sorted(c["id"] for c in opened)
        assert max(named.values()) <= 2, named
        assert all(c.reply.mentions == WORKER_PHONES for c in ding.accepted())

        # the timeline: the failures, then the success
        for case in opened:
            notes = serve.tells(case["id"])
            for channel in ("ding-grid", "city"):
                mine = [n for n in notes if f"→ {channel} " in n]
                assert any(": retry in " in n and "HTTP 500" in n for n in mine), mine
                assert ": delivered: " in mine[-1], mine
        print(
            f"\nchannel down {OUTAGE_S} s with a kill -9: {len(deliveries)} deliveries, "
            f"webhook repeats {sum(city.deliveries.values()) - len(webhook_keys)}, "
            f"robot messages {len(ding.accepted())}"
        )


# -- 3. a power cut: 400 last wills at once on one grid ------------------------------------

FLEET = 400


def connect_with_will(host: str, port: int, client_id: str, topic: str) -> socket.socket:
    """An MQTT 3.1.1 connection with a retained QoS 1 last will `{"online": false}`, as
    each sensor holds one (CONTRACT §2); returns once the broker accepted it."""

    def text(value: str | bytes) -> bytes:
        raw = value.encode() if isinstance(value, str) else value
        return struct.pack("!H", len(raw)) + raw

    flags = 0x02 | 0x04 | 0x08 | 0x20  # clean session, will, will QoS 1, will retain
    body = text("MQTT") + bytes([4, flags]) + struct.pack("!H", 60)
    body += text(client_id) + text(topic) + text(b'{"online": false}')
    assert len(body) < 128
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(bytes([0x10, len(body)]) + body)
    assert sock.recv(4) == b"\x20\x02\x00\x00", "CONNACK refused"
    return sock


def test_a_power_cut_of_400_sensors_reaches_the_grids_robot_in_digests_never_over_20_a_minute(
    serve_for, pub, influx, topic_prefix, mqtt_url
):
    buildings = [f"p{i:03d}" for i in range(FLEET)]
    with DingTalkStandIn(token="grid-token", secret="SEC-grid") as ding:
        community = File(
            channels=[
                {"id": "ding-grid", "type": "dingtalk", "url": ding.url, "secret": "env:E2E_DING"}
            ],
            grid_notify=["ding-grid"],
            worker_channels={"ding-grid": "phone"},
            residential=["probe", *buildings],
        )
        serve = serve_for(community, {"E2E_DING": "SEC-grid"}).start()  # the default wait
        serve.ingesting(pub, "n-probe", influx)
        heard(pub, topic_prefix, [f"n-{b}" for b in buildings], influx)
        # the engine (its own process) has judged all that once it opens the probe's case
        offline(pub, topic_prefix, ["n-probe"])
        one_case(serve, "probe", "device_offline")
        host, port = mqtt_url.removeprefix("mqtt://").split(":")
        tag = topic_prefix.split("/")[0]
        sockets = [
            connect_with_will(host, int(port), f"{tag}-n-{b}", f"{topic_prefix}/n-{b}/status")
            for b in buildings
        ]
        cut = time.time()
        for sock in sockets:
            sock.close()  # no DISCONNECT: the broker publishes every will

        def all_opened() -> list[dict[str, Any]] | None:
            found = [c for c in serve.cases() if c["grid"] == "g1"]
            return found if len(found) == FLEET else None

        cases = wait_for(all_opened, every_s=0.5)
        ids = {c["id"] for c in cases}

        def all_named() -> Counter[int] | None:
            named = Counter(
                int(m) for c in ding.accepted() for m in set(LINK.findall(c.reply.text))
            )
            return named if set(named) >= ids else None

        named = wait_for(all_named, every_s=0.5)
        calls = ding.accepted()
        took_s = calls[-1].at - cut
        assert set(named) == ids and max(named.values()) == 1  # each case named once
        times = [c.at for c in ding.calls]
        for i, at in enumerate(times):  # what the robot received in any minute
            assert sum(1 for t in times[i:] if t - at < 60) <= 20
        assert all(c.code == 0 for c in ding.calls), [c.code for c in ding.calls]
        assert all(c.reply.mentions == WORKER_PHONES for c in calls)
        assert all(len(c.request.body) < 20_000 for c in calls)
        failed = serve.get("/deliveries", state="failed")
        assert failed == []
        print(
            f"\npower cut: {FLEET} last wills → {len(calls)} messages to the grid's robot, "
            f"the last {took_s:.1f} s after the cut (group wait 30 s)"
        )


# -- 4. bad configuration and bad answers ---------------------------------------------------


def test_an_unknown_channel_in_a_notify_list_refuses_the_file_naming_where(serve_for, tmp_path):
    community = File(
        channels=[{"id": "ding-grid", "type": "dingtalk", "url": "http://127.0.0.1:9/robot/send"}],
        grid_notify=["ding-grid", "ding-nope"],
        shops=[(*SHOP, ["wecom-shop"])],
        residential=["b1"],
    )
    serve = serve_for(community, {})
    expected = [
        "[[grid]] #1 'g1' field 'notify': 'ding-nope' is not a [[channel]] id",
        "[[site]] #1 'rest-1' merchant field 'notify': 'wecom-shop' is not a [[channel]] id",
    ]
    with pytest.raises(CommunityError) as refused:
        load_community(serve.config)
    assert str(refused.value).splitlines() == [f"{serve.config}: {line}" for line in expected]
    # `linli serve` on it stops at once with the same lines, nothing started
    run = subprocess.run(
        [sys.executable, "-m", "linli", "serve", "--config", str(serve.config)],
        env=serve.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"linli: {serve.config}: {expected[0]}",
        f"{serve.config}: {expected[1]}",
    ]
    assert not (tmp_path / "linli.db").exists()


def test_a_wrong_secret_a_missing_variable_and_garbage_are_reported_and_the_rules_go_on(
    serve_for, pub, influx, topic_prefix
):
    with (
        DingTalkStandIn(token="grid-token", secret="SEC-right") as ding,
        FeishuStandIn(token="grid-hook", secret="feishu-s3cret") as feishu,
    ):
        feishu.answer_garbage()
        community = File(
            channels=[
                {"id": "ding-wrong", "type": "dingtalk", "url": ding.url, "secret": "env:E2E_DING"},
                {"id": "wecom-missing", "type": "wecom", "url": "env:E2E_UNSET_WECOM_URL"},
                {
                    "id": "feishu-garbage",
                    "type": "feishu",
                    "url": feishu.url,
                    "secret": "env:E2E_FS",
                },
            ],
            grid_notify=["ding-wrong", "wecom-missing", "feishu-garbage"],
            worker_channels={"ding-wrong": "phone", "wecom-missing": "phone"},
            residential=["probe", "b1"],
        )
        env = {
            "E2E_DING": "SEC-wrong",
            "E2E_FS": "feishu-s3cret",
            "LINLI_NOTIFY_GROUP_WAIT_S": "1",
            "LINLI_NOTIFY_RETRY_MOST_S": "4",
        }
        serve = serve_for(community, env).start()
        missing = (
            "channel 'wecom-missing' field 'url': environment variable E2E_UNSET_WECOM_URL is "
            "not set"
        )
        said = [line for line in serve.log().splitlines() if "wecom-missing" in line]
        assert len(said) == 1 and said[0].endswith(
            f"notification channel wecom-missing cannot be used: {missing}"
        )
        health = serve.get("/health")
        assert health["status"] == "ok"  # ingest's parts; the channels are beside them
        assert health["channels"]["wecom-missing"] == {"ok": False, "detail": missing}

        # ingest and the rules go on: readings stored, a case opens
        serve.ingesting(pub, "n-probe", influx)
        heard(pub, topic_prefix, ["n-b1"], influx)
        offline(pub, topic_prefix, ["n-b1"])
        case = one_case(serve, "b1", "device_offline")
        assert (case["state"], case["level"]) == ("open", "grid_worker")

        def answered() -> dict[str, dict[str, Any]] | None:
            found = {d["channel"]: d for d in serve.deliveries(case["id"])}
            ok = len(found) == 3 and all(d["attempts"] >= 1 for d in found.values())
            return found if ok else None

        told = wait_for(answered, every_s=0.2)
        wrong, absent, garbage = (
            told[c] for c in ("ding-wrong", "wecom-missing", "feishu-garbage")
        )
        assert wrong["state"] == "failed" and wrong["detail"].startswith("errcode 310000")
        assert (absent["state"], absent["detail"]) == ("failed", missing)
        assert garbage["state"] == "pending"
        assert garbage["detail"] == (
            "HTTP 200, answer not a JSON object: "
            "'<html><body><h1>502 Bad Gateway</h1></body></html>'"
        )
        failed = {d["channel"]: d["detail"] for d in serve.get("/deliveries", state="failed")}
        assert failed == {"ding-wrong": wrong["detail"], "wecom-missing": missing}
        channels = serve.get("/health")["channels"]
        assert channels["ding-wrong"]["ok"] is False
        assert "errcode 310000" in channels["ding-wrong"]["detail"]
        assert [c.code for c in ding.calls] == [310000] and ding.accepted() == []

        # the garbage was retried, and once the bot answers properly it is delivered
        wait_for(lambda: len(feishu.calls) >= 2)
        feishu.answer_garbage(False)
        wait_for(lambda: feishu.accepted())
        wait_for(lambda: answered()["feishu-garbage"]["state"] == "delivered")  # type: ignore[index]
        notes = [n for n in serve.tells(case["id"]) if "→ feishu-garbage " in n]
        assert all(": retry in " in n and "not a JSON object" in n for n in notes[:-1])
        assert len(notes) >= 3 and ": delivered: code 0" in notes[-1]
        assert serve.get("/health")["status"] == "ok"
