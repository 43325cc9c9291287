"""Feishu: the sign in the body, the hour's clock skew, the rich-text post."""

from __future__ import annotations

import time

import orjson

from linli.notify.channel import Outcome
from linli.notify.feishu import FeishuBot, answer
from linli.standins import FeishuStandIn
from tests.notify.conftest import LINK, message


def test_the_body_carries_timestamp_and_sign(feishu: FeishuStandIn) -> None:
    bot = FeishuBot("f", feishu.url, feishu.secret, clock=lambda: 1_764_209_700.9)
    feishu.clock = lambda: 1_764_209_800.0
    assert bot.send(message(), ["ou_7"]).outcome is Outcome.DELIVERED
    body = orjson.loads(feishu.calls[0].request.body)
    assert body["timestamp"] == "1764209700"
    assert body["msg_type"] == "post"
    assert body["content"]["post"]["zh_cn"]["title"] == "欢唱KTV 夜间噪声超标"
    assert [{"tag": "a", "text": "查看工单", "href": LINK}] in body["content"]["post"]["zh_cn"][
        "content"
    ]


def test_a_timestamp_over_an_hour_off_fails_with_19021(feishu: FeishuStandIn) -> None:
    bot = FeishuBot("f", feishu.url, feishu.secret, clock=lambda: time.time() + 3700)
    result = bot.send(message(), [])
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("code 19021: sign match fail or timestamp")


def test_a_bot_without_signature_sends_no_sign() -> None:
    with FeishuStandIn("hook", None) as stand_in:
        assert FeishuBot("f", stand_in.url, None).send(message(), []).outcome is Outcome.DELIVERED
        assert "sign" not in orjson.loads(stand_in.calls[0].request.body)


def test_an_unknown_hook_fails_with_19001(feishu: FeishuStandIn) -> None:
    result = FeishuBot("f", feishu.url + "x", feishu.secret).send(message(), [])
    assert result.outcome is Outcome.FAILED and result.detail.startswith("code 19001")


def test_the_older_status_code_answer_is_read() -> None:
    assert answer({"StatusCode": 0, "StatusMessage": "success"}).outcome is Outcome.DELIVERED
    assert answer({"StatusCode": 9499, "StatusMessage": "too many"}).retry_after_s == 60.0
