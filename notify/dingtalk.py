"""DingTalk custom robot (自定义机器人) with the 加签 (sign) security setting.

`POST {url}&timestamp=<ms>&sign=<urlencode(base64(HMAC-SHA256(secret, "<ms>\\n<secret>")))>`
with a markdown message. DingTalk answers HTTP 200 whatever happened; only `errcode` 0
is delivered (Grafana's DingDing notifier counts the 200 as sent, and cannot sign).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx

from linli.notify import mentions, transport
from linli.notify.channel import Answer, Message, Outcome
from linli.rules import escape

BODY_MAX_BYTES: Final = 20_000  # the robot refuses a longer request body
TOO_FAST: Final = 130101  # over 20 messages a minute: the robot is blocked for ~10 minutes
BLOCKED_S: Final = 600.0
# 310000: sign, keyword or IP whitelist not met; 300001: the token (robot) is unknown.
# Both are configuration errors: a person must fix the channel, retrying cannot help.
CONFIG_ERRORS: Final = frozenset({310000, 300001})


def sign(secret: str, timestamp_ms: int) -> str:
    """The `sign` parameter: base64 of HMAC-SHA256 over "<ms>\\n<secret>" keyed by the secret
    (not yet URL-encoded: httpx encodes the query)."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


class DingTalkRobot(transport.HttpChannel):
    """One DingTalk group robot; `to` are the mobiles (or DingTalk user ids) to @-mention."""

    def __init__(
        self,
        id: str,
        url: str,
        secret: str | None,
        *,
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(id, url, timeout_s=timeout_s, http=http)
        self.secret = secret
        self.clock = clock

    def body(self, message: Message, to: Sequence[str]) -> bytes | None:
        """The request body, its text shortened to stay under 20,000 bytes (None: cannot)."""
        mobiles, user_ids = mentions.split(to)
        # DingTalk shows a mention only when the text also carries "@<mobile>" / "@<userid>".
        tail = f"\n\n[查看工单]({message.link})"
        if mobiles or user_ids:
            # an address is typed into the registry: one line of no markup, like any field
            tail += "\n\n" + " ".join(f"@{escape.markdown(m, 64)}" for m in mobiles + user_ids)

        def build(text: str) -> bytes:
            doc: dict[str, Any] = {
                "msgtype": "markdown",
                "markdown": {
                    "title": message.title,
                    "text": f"#### {message.title}\n\n{text}{tail}",
                },
                "at": {"atMobiles": mobiles, "atUserIds": user_ids, "isAtAll": False},
            }
            return transport.dumps(doc)

        return transport.fit(build, message.text, BODY_MAX_BYTES - 1)

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """Post the message; errcode 0 delivered, 130101 retry in 10 min, 310000/300001 failed."""
        body = self.body(message, to)
        if body is None:
            return Answer(Outcome.FAILED, f"message over {BODY_MAX_BYTES} bytes even shortened")
        params: dict[str, str] = {}
        if self.secret:
            ts_ms = int(self.clock() * 1000)
            params = {"timestamp": str(ts_ms), "sign": sign(self.secret, ts_ms)}
        return transport.robot_exchange(
            self.http, transport.with_query(self.url, params), body, answer
        )


def answer(doc: dict[str, Any]) -> Answer:
    """DingTalk's JSON answer `{"errcode": .., "errmsg": ..}` as an outcome."""
    return transport.coded_answer(
        doc,
        code_key="errcode",
        message_key="errmsg",
        too_fast=frozenset({TOO_FAST}),
        too_fast_wait_s=BLOCKED_S,
        config_errors=CONFIG_ERRORS,
        hint="check the URL's access_token, the secret, the keyword, the IP whitelist",
    )
