"""DingTalk's own rules: the signed query, the hour's clock skew, mentions in the text, the block."""

from __future__ import annotations

import time
from dataclasses import replace

from linli.notify.channel import Outcome
from linli.notify.dingtalk import DingTalkRobot
from linli.standins import DingTalkStandIn
from tests.notify.conftest import message


def test_the_query_keeps_the_token_and_adds_timestamp_and_sign(dingtalk: DingTalkStandIn) -> None:
    robot = DingTalkRobot("ding", dingtalk.url, dingtalk.secret, clock=lambda: 1_764_209_700.123)
    dingtalk.clock = lambda: 1_764_209_700.5
    assert robot.send(message(), []).outcome is Outcome.DELIVERED
    query = dingtalk.calls[0].request.query
    assert query["access_token"] == "tok-1"
    assert query["timestamp"] == "1764209700123"
    # base64(HMAC-SHA256("SECabc123", "1764209700123\nSECabc123")), checked by the stand-in
    assert len(query["sign"]) == 44 and query["sign"].endswith("=")


def test_a_timestamp_over_an_hour_off_fails_with_310000(dingtalk: DingTalkStandIn) -> None:
    late = DingTalkRobot("ding", dingtalk.url, dingtalk.secret, clock=lambda: time.time() - 3700)
    answer = late.send(message(), [])
    assert answer.outcome is Outcome.FAILED
    assert answer.detail.startswith("errcode 310000: invalid timestamp")
    near = DingTalkRobot("ding", dingtalk.url, dingtalk.secret, clock=lambda: time.time() - 3500)
    assert near.send(message(), []).outcome is Outcome.DELIVERED


def test_an_unknown_robot_fails_with_300001(dingtalk: DingTalkStandIn) -> None:
    url = dingtalk.url.replace("tok-1", "tok-gone")
    answer = DingTalkRobot("ding", url, dingtalk.secret).send(message(), [])
    assert (answer.outcome, answer.detail.split(" (")[0]) == (
        Outcome.FAILED,
        "errcode 300001: token is not exist",
    )


def test_mobiles_and_user_ids_are_mentioned_in_at_and_in_the_text(
    dingtalk: DingTalkStandIn,
) -> None:
    robot = DingTalkRobot("ding", dingtalk.url, dingtalk.secret)
    to = ["138-0000-0001", "+86 139 0000 0112", "wangli-tx", "13800000001"]
    assert robot.send(message(), to).outcome is Outcome.DELIVERED
    call = dingtalk.calls[0]
    assert call.reply.mentions == ("13800000001", "13900000112", "wangli-tx")
    assert "@13800000001 @13900000112 @wangli-tx" in call.reply.text


def test_over_twenty_a_minute_blocks_the_robot_for_ten_minutes() -> None:
    now = [1_764_209_700.0]
    with DingTalkStandIn("tok", "SECx", clock=lambda: now[0], rate_per_min=2) as stand_in:
        robot = DingTalkRobot("ding", stand_in.url, "SECx", clock=lambda: now[0])
        outcomes = [robot.send(message(), []).outcome for _ in range(3)]
        assert outcomes == [Outcome.DELIVERED, Outcome.DELIVERED, Outcome.RETRY]
        now[0] += 61  # the minute is over, the block is not
        assert robot.send(message(), []).retry_after_s == 600.0
        now[0] += 600
        assert robot.send(message(), []).outcome is Outcome.DELIVERED
        assert len(stand_in.accepted()) == 3


def test_a_keyword_robot_takes_messages_with_its_keyword() -> None:
    with DingTalkStandIn("tok", None, keyword="工单") as stand_in:
        assert (
            DingTalkRobot("d", stand_in.url, None).send(message(), []).outcome is Outcome.DELIVERED
        )
        stand_in.keyword = "告警"
        answer = DingTalkRobot("d", stand_in.url, None).send(message(), [])
        assert answer.outcome is Outcome.FAILED
        assert answer.detail.startswith("errcode 310000: keywords not in content")


def test_a_message_that_cannot_fit_is_failed_never_sent() -> None:
    with DingTalkStandIn("tok", None) as stand_in:
        robot = DingTalkRobot("d", stand_in.url, None)
        answer = robot.send(replace(message(), title="标" * 7000), [])
        assert (answer.outcome, answer.detail) == (
            Outcome.FAILED,
            "message over 20000 bytes even shortened",
        )
        assert stand_in.calls == []
