"""WeCom (企业微信) group robot: `POST {url}` (the URL carries the robot's `key=`).

WeCom's markdown cannot @-mention by mobile (only `<@userid>`), and its text message
can (`mentioned_mobile_list`) but renders no markdown. A message with people to mention
goes as one text message with the mentions; one without as markdown. Not markdown and
then a text with the mentions: two posts would spend two of the robot's 20 messages a
minute and could half-succeed, and the retry of a half-success would repeat the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from linli.notify import mentions, transport
from linli.notify.channel import Answer, Message, Outcome
from linli.notify.markdown import plain

MARKDOWN_MAX_BYTES: Final = 4096  # markdown.content
TEXT_MAX_BYTES: Final = 2048  # text.content
TOO_FAST: Final = 45009  # "api freq out of limit": 20 messages a minute per robot
FREQ_WINDOW_S: Final = 60.0
INVALID_WEBHOOK: Final = 93000  # the key is wrong or the robot was removed
# 40008 invalid message type, 40058 a field too long or missing: the message is wrong.


class WeComRobot(transport.HttpChannel):
    """One WeCom group robot; `to` are the mobiles to @-mention."""

    def body(self, message: Message, to: Sequence[str]) -> bytes | None:
        """Text with mentions (2,048 bytes) or markdown (4,096 bytes), the text shortened."""
        mobiles, _ = mentions.split(to)  # WeCom mentions by mobile; user ids are not ours
        if mobiles:
            title, tail = message.title, f"\n查看工单: {message.link}"
            content = transport.fit(
                lambda t: f"{title}\n{plain(t)}{tail}",
                message.text,
                TEXT_MAX_BYTES,
                transport.utf8_size,
            )
            if content is None:
                return None
            return transport.dumps(
                {"msgtype": "text", "text": {"content": content, "mentioned_mobile_list": mobiles}}
            )
        title, tail = message.title, f"\n\n[查看工单]({message.link})"
        content = transport.fit(
            lambda t: f"### {title}\n{t}{tail}",
            message.text,
            MARKDOWN_MAX_BYTES,
            transport.utf8_size,
        )
        if content is None:
            return None
        return transport.dumps({"msgtype": "markdown", "markdown": {"content": content}})

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """Post; errcode 0 delivered, 45009 retry in a minute, 93000 failed (bad key)."""
        body = self.body(message, to)
        if body is None:
            return Answer(Outcome.FAILED, "message does not fit WeCom's limit even shortened")
        return transport.robot_exchange(self.http, self.url, body, answer)


def answer(doc: dict[str, Any]) -> Answer:
    """WeCom's JSON answer `{"errcode": .., "errmsg": ..}` as an outcome."""
    return transport.coded_answer(
        doc,
        code_key="errcode",
        message_key="errmsg",
        too_fast=frozenset({TOO_FAST}),
        too_fast_wait_s=FREQ_WINDOW_S,
        config_errors=frozenset({INVALID_WEBHOOK}),
        hint="check the robot's key in the URL",
    )
