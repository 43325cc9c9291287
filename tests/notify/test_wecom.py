"""WeCom: text with mentions, markdown without, each within its own content limit."""

from __future__ import annotations

import orjson

from linli.notify.channel import Outcome
from linli.notify.wecom import MARKDOWN_MAX_BYTES, WeComRobot
from linli.standins import WeComStandIn
from tests.notify.conftest import LINK, message


def test_mentions_go_as_one_text_message(wecom: WeComStandIn) -> None:
    robot = WeComRobot("w", wecom.url)
    answer = robot.send(message(), ["138-0000-0001", "wangli-tx", "13900000112"])
    assert answer.outcome is Outcome.DELIVERED
    [call] = wecom.calls
    body = orjson.loads(call.request.body)
    assert body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13800000001", "13900000112"]
    assert call.reply.mentions == ("13800000001", "13900000112")
    assert "**" not in call.reply.text  # text renders no markdown: it was made plain
    assert call.reply.text.endswith(f"查看工单: {LINK}")


def test_without_mentions_markdown(wecom: WeComStandIn) -> None:
    assert WeComRobot("w", wecom.url).send(message(), []).outcome is Outcome.DELIVERED
    body = orjson.loads(wecom.calls[0].request.body)
    assert body["msgtype"] == "markdown"
    assert "**欢唱KTV**" in body["markdown"]["content"]
    assert wecom.calls[0].reply.mentions == ()


def test_a_long_markdown_is_cut_to_4096_bytes(wecom: WeComStandIn) -> None:
    answer = WeComRobot("w", wecom.url).send(message(text="超标" * 3000), [])
    assert answer.outcome is Outcome.DELIVERED
    content = orjson.loads(wecom.calls[0].request.body)["markdown"]["content"]
    assert MARKDOWN_MAX_BYTES - 10 < len(content.encode()) <= MARKDOWN_MAX_BYTES
    assert content.endswith(f"[查看工单]({LINK})")


def test_the_stand_in_refuses_content_over_the_limit(wecom: WeComStandIn) -> None:
    import httpx

    body = {"msgtype": "text", "text": {"content": "x" * 2049}}
    doc = httpx.post(wecom.url, json=body).json()
    assert doc == {"errcode": 40058, "errmsg": "text.content exceed max length 2048"}
