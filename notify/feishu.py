"""Feishu (飞书) custom bot (自定义机器人) with signature verification (签名校验).

`POST {url}` with `timestamp` (seconds) and `sign` in the JSON body: the sign is the
base64 of HMAC-SHA256 keyed by "<timestamp>\\n<secret>" over an empty message. The
message is a rich-text `post`: the title, the text, the case link and `at` elements.
Feishu mentions by open_id / user_id ("ou_…"), not by mobile: a person's address on a
Feishu channel is their id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import httpx

from linli.notify import transport
from linli.notify.channel import Answer, Message, Outcome
from linli.notify.markdown import plain

BODY_MAX_BYTES: Final = 20 * 1024  # the request body (Feishu: at most 20 KB)
TOO_FAST: Final = 9499  # "too many request": 100 a minute, 5 a second per bot
FREQ_WINDOW_S: Final = 60.0
# 19021 sign check failed (or timestamp over an hour off), 19022 IP not allowed,
# 19024 keyword missing, 19001 the hook's token is invalid: configuration errors.
CONFIG_ERRORS: Final = frozenset({19001, 19021, 19022, 19024})


def sign(secret: str, timestamp_s: int) -> str:
    """Feishu's `sign`: base64(HMAC-SHA256(key="<ts>\\n<secret>", msg=b""))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class FeishuBot(transport.HttpChannel):
    """One Feishu group bot; `to` are the open_ids / user_ids to @-mention."""

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
        """The signed request body, its text shortened to stay within 20 KB (None: cannot)."""
        head: dict[str, Any] = {}
        if self.secret:
            ts = int(self.clock())
            head = {"timestamp": str(ts), "sign": sign(self.secret, ts)}
        people = list(dict.fromkeys(a.strip() for a in to if a.strip()))

        def build(text: str) -> bytes:
            lines: list[list[dict[str, str]]] = [
                [{"tag": "text", "text": line}] for line in plain(text).split("\n")
            ]
            lines.append([{"tag": "a", "text": "查看工单", "href": message.link}])
            if people:
                lines.append([{"tag": "at", "user_id": p} for p in people])
            post = {"zh_cn": {"title": message.title, "content": lines}}
            return transport.dumps({**head, "msg_type": "post", "content": {"post": post}})

        return transport.fit(build, message.text, BODY_MAX_BYTES)

    def send(self, message: Message, to: Sequence[str]) -> Answer:
        """Post; code 0 delivered, 9499 retry in a minute, 19021 (sign) failed."""
        body = self.body(message, to)
        if body is None:
            return Answer(Outcome.FAILED, f"message over {BODY_MAX_BYTES} bytes even shortened")
        return transport.robot_exchange(self.http, self.url, body, answer)


def answer(doc: dict[str, Any]) -> Answer:
    """Feishu's answer `{"code": .., "msg": ..}` (older bots: `StatusCode`) as an outcome."""
    keys = ("code", "msg") if "code" in doc else ("StatusCode", "StatusMessage")
    return transport.coded_answer(
        doc,
        code_key=keys[0],
        message_key=keys[1],
        too_fast=frozenset({TOO_FAST}),
        too_fast_wait_s=FREQ_WINDOW_S,
        config_errors=CONFIG_ERRORS,
        hint="check the hook URL, the secret, the keyword, the IP whitelist",
    )
