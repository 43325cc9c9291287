"""DingTalk, WeCom and Feishu group robots: signatures, limits, errcodes, mentions."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any, ClassVar

from linli.standins.base import HttpStandIn, Reply, Request, hmac_b64, json_body, json_reply


class DingTalkStandIn(HttpStandIn):
    """A DingTalk custom robot with the 加签 setting: `/robot/send?access_token=...`."""

    name = "dingtalk"
    BODY_MAX_BYTES: ClassVar[int] = 20_000
    CLOCK_SKEW_MS: ClassVar[int] = 3_600_000  # DingTalk: the timestamp within one hour

    def __init__(
        self,
        token: str = "robot-token",
        secret: str | None = "SEC" + "0" * 61,
        *,
        keyword: str | None = None,
        block_s: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token, self.secret, self.keyword, self.block_s = token, secret, keyword, block_s
        self._blocked_until = 0.0

    def too_fast(self, on: bool = True) -> None:
        """Answer 130101 as if the rate limit were spent; off also lifts a block."""
        super().too_fast(on)
        if not on:
            self._blocked_until = 0.0

    @property
    def url(self) -> str:
        """The robot's webhook URL, as DingTalk shows it."""
        return f"{self.base_url}/robot/send?access_token={self.token}"

    def serve(self, request: Request) -> Reply:
        """DingTalk's errcodes: 300001, 310000, 40035, 460101, 130101 or 0."""
        if request.method != "POST" or request.path != "/robot/send":
            return Reply(404, b"not found")
        if request.query.get("access_token") != self.token:
            return json_reply(200, {"errcode": 300001, "errmsg": "token is not exist"}, code=300001)
        if self.secret is not None:
            problem = self._sign_problem(request.query)
            if problem:
                return json_reply(200, {"errcode": 310000, "errmsg": problem}, code=310000)
        if len(request.body) > self.BODY_MAX_BYTES:
            said = {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
            return json_reply(200, said, code=460101)
        doc = json_body(request)
        text = _dingtalk_text(doc) if doc else None
        if doc is None or text is None:
            return json_reply(200, {"errcode": 40035, "errmsg": "缺少参数 json"}, code=40035)
        if self.keyword and self.keyword not in text:
            said = {"errcode": 310000, "errmsg": "keywords not in content"}
            return json_reply(200, said, code=310000)
        if self.clock() < self._blocked_until or not self.admit(self.token):
            # Over 20 a minute: DingTalk blocks the robot for about 10 minutes.
            self._blocked_until = max(self._blocked_until, self.clock() + self.block_s)
            said = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            return json_reply(200, said, code=130101)
        at = doc.get("at") or {}
        # DingTalk shows a mention only when the text also says "@<mobile>" / "@<userid>".
        named = [str(x) for x in (at.get("atMobiles") or []) + (at.get("atUserIds") or [])]
        shown = tuple(x for x in named if f"@{x}" in text)
        return json_reply(
            200, {"errcode": 0, "errmsg": "ok"}, code=0, accepted=True, text=text, mentions=shown
        )

    def _sign_problem(self, query: Mapping[str, str]) -> str | None:
        assert self.secret is not None
        ts = query.get("timestamp", "")
        if not ts.isdigit():
            return "sign not match: no timestamp"
        if abs(int(self.clock() * 1000) - int(ts)) > self.CLOCK_SKEW_MS:
            return "invalid timestamp"
        expected = hmac_b64(self.secret.encode(), f"{ts}\n{self.secret}".encode())
        if not hmac.compare_digest(query.get("sign", ""), expected):
            return "sign not match"
        return None


def _dingtalk_text(doc: Mapping[str, Any]) -> str | None:
    kind = doc.get("msgtype")
    part = doc.get(kind) if isinstance(kind, str) else None
    if not isinstance(part, dict):
        return None
    if kind == "text":
        content = part.get("content")
        return content if isinstance(content, str) and content else None
    if kind in ("markdown", "actionCard"):
        title, text = part.get("title"), part.get("text")
        ok = isinstance(title, str) and title and isinstance(text, str) and text
        return text if ok else None
    return None


class WeComStandIn(HttpStandIn):
    """A WeCom group robot: `/cgi-bin/webhook/send?key=...`."""

    name = "wecom"
    LIMITS: ClassVar[dict[str, int]] = {"text": 2048, "markdown": 4096}

    def __init__(self, key: str = "robot-key", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    @property
    def url(self) -> str:
        """The robot's webhook URL, as WeCom shows it."""
        return f"{self.base_url}/cgi-bin/webhook/send?key={self.key}"

    def serve(self, request: Request) -> Reply:
        """WeCom's errcodes: 93000, 40035, 40008, 40058, 45009 or 0."""
        if request.method != "POST" or request.path != "/cgi-bin/webhook/send":
            return Reply(404, b"not found")
        if request.query.get("key") != self.key:
            said = {"errcode": 93000, "errmsg": "invalid webhook url, hint: key is wrong"}
            return json_reply(200, said, code=93000)
        doc = json_body(request)
        if doc is None:
            return json_reply(200, {"errcode": 40035, "errmsg": "invalid json"}, code=40035)
        kind = doc.get("msgtype")
        if kind not in self.LIMITS or not isinstance(doc.get(kind), dict):
            return json_reply(200, {"errcode": 40008, "errmsg": "invalid message type"}, code=40008)
        part = doc[kind]
        content = part.get("content")
        if not isinstance(content, str) or not content:
            said = {"errcode": 40058, "errmsg": f"{kind}.content is required"}
            return json_reply(200, said, code=40058)
        if len(content.encode()) > self.LIMITS[kind]:
            limit = self.LIMITS[kind]
            said = {"errcode": 40058, "errmsg": f"{kind}.content exceed max length {limit}"}
            return json_reply(200, said, code=40058)
        if not self.admit(self.key):
            said = {"errcode": 45009, "errmsg": "api freq out of limit"}
            return json_reply(200, said, code=45009)
        # Only a text message mentions by mobile; markdown ignores mentioned_mobile_list.
        mobiles = part.get("mentioned_mobile_list") if kind == "text" else None
        shown = tuple(str(m) for m in mobiles or [])
        return json_reply(
            200, {"errcode": 0, "errmsg": "ok"}, code=0, accepted=True, text=content, mentions=shown
        )


class FeishuStandIn(HttpStandIn):
    """A Feishu custom bot with signature verification: `/open-apis/bot/v2/hook/<token>`."""

    name = "feishu"
    BODY_MAX_BYTES: ClassVar[int] = 20 * 1024
    CLOCK_SKEW_S: ClassVar[int] = 3600

    def __init__(
        self, token: str = "hook-token", secret: str | None = "feishu-secret", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.token, self.secret = token, secret

    @property
    def url(self) -> str:
        """The bot's webhook URL, as Feishu shows it."""
        return f"{self.base_url}/open-apis/bot/v2/hook/{self.token}"

    def serve(self, request: Request) -> Reply:
        """Feishu's codes: 19001, 19021, 19002, 9499 or 0."""
        if request.method != "POST" or request.path != f"/open-apis/bot/v2/hook/{self.token}":
            said = {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            return json_reply(200, said, code=19001)
        if len(request.body) > self.BODY_MAX_BYTES:
            # Feishu's code for an oversize body is not documented: this one is ours.
            return json_reply(200, {"code": 19002, "msg": "request body too large"}, code=19002)
        doc = json_body(request)
        if doc is None:
            return json_reply(400, {"code": 9499, "msg": "Bad Request"}, code=9499)
        if self.secret is not None:
            ts = str(doc.get("timestamp", ""))
            expected = hmac_b64(f"{ts}\n{self.secret}".encode(), b"")
            fresh = ts.isdigit() and abs(self.clock() - int(ts)) <= self.CLOCK_SKEW_S
            if not fresh or not hmac.compare_digest(str(doc.get("sign", "")), expected):
                msg = "sign match fail or timestamp is not within one hour from current time"
                return json_reply(200, {"code": 19021, "msg": msg}, code=19021)
        read = _feishu_text(doc)
        if read is None:
            return json_reply(
                200, {"code": 19002, "msg": "params error, msg_type or content"}, code=19002
            )
        if not self.admit(self.token):
            return json_reply(200, {"code": 9499, "msg": "too many request"}, code=9499)
        text, people = read
        said = {"code": 0, "msg": "success", "data": {}}
        return json_reply(200, said, code=0, accepted=True, text=text, mentions=people)


def _feishu_text(doc: Mapping[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    kind, content = doc.get("msg_type"), doc.get("content")
    if not isinstance(content, dict):
        return None
    if kind == "text" and isinstance(content.get("text"), str):
        return content["text"], ()
    if kind != "post":
        return None
    post = (content.get("post") or {}).get("zh_cn") or {}
    lines, people = [str(post.get("title", ""))], []
    for row in post.get("content") or []:
        words = []
        for element in row:
            if element.get("tag") == "at":
                people.append(str(element.get("user_id")))
                words.append(f"@{element.get('user_id')}")
            elif element.get("tag") == "a":
                words.append(f"{element.get('text')} {element.get('href')}")
            else:
                words.append(str(element.get("text", "")))
        lines.append(" ".join(words))
    return "\n".join(lines), tuple(people)
