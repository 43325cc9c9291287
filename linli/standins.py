"""Local stand-ins for the services linli tells people on, for the demo and the tests.

DingTalk, WeCom and Feishu robots, Aliyun's SendSms and a webhook receiver as HTTP
servers on free 127.0.0.1 ports (each in a thread), and a real SMTP server (aiosmtpd).
Each behaves as the service does where linli depends on it: it checks the signature and
the timestamp, the body's limits and the required fields, answers with the service's
own codes (HTTP 200 with an errcode for the robots), keeps the rate limit (20 messages
a minute per robot), and can be told to answer "too fast", to fail with HTTP 500 for a
while, to answer garbage or to answer late. It records every call: the message as its
reader would read it, who was @-mentioned, what it answered, and when.

The signatures are computed here independently of linli/notify/ (its own percent
encoding for Aliyun), so that a stand-in accepting linli's requests means something.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Final, Self
from urllib.parse import parse_qsl, urlsplit

import orjson

RATE_PER_MIN: Final = 20  # DingTalk's and WeCom's limit per robot; Feishu's is higher
GARBAGE: Final = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request as a stand-in sees it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """What a stand-in answers, and what it understood of the message."""

    status: int
    body: bytes
    code: int | str | None = None  # the service's errcode / Code; None for plain HTTP
    accepted: bool = False  # the service would show or send the message
    text: str = ""  # the message as its reader reads it
    mentions: tuple[str, ...] = ()  # who is @-mentioned (shown as mentioned)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Call:
    """One recorded request and its reply; `at` is the stand-in's clock (epoch seconds)."""

    at: float
    request: Request
    reply: Reply

    @property
    def code(self) -> int | str | None:
        """The service's code in the reply."""
        return self.reply.code

    @property
    def accepted(self) -> bool:
        """Whether the service took the message."""
        return self.reply.accepted


def _json(status: int, doc: Mapping[str, Any], **understood: Any) -> Reply:
    return Reply(status, orjson.dumps(doc), **understood)


class HttpStandIn:
    """A stand-in HTTP service on a free loopback port; subclasses answer `serve`."""

    name: ClassVar[str] = "http"

    def __init__(
        self,
        *,
        rate_per_min: int = RATE_PER_MIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.rate_per_min = rate_per_min
        self.clock = clock
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._sent: dict[str, deque[float]] = {}
        self._fail_until = 0.0  # monotonic
        self._garbage = False
        self._too_fast = False
        self._delay_s = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- running ---------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on a free 127.0.0.1 port, serving from a daemon thread."""
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    dict(parse_qsl(parts.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                reply = stand_in.dispatch(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the calls are recorded instead

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"standin-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- behaviour ---------------------------------------------------------------------

    def fail_for(self, seconds: float) -> None:
        """Answer HTTP 500 for the next `seconds`."""
        self._fail_until = time.monotonic() + seconds

    def answer_garbage(self, on: bool = True) -> None:
        """Answer HTTP 200 with an HTML page instead of the service's JSON."""
        self._garbage = on

    def too_fast(self, on: bool = True) -> None:
        """Answer "too fast" as if the rate limit were spent."""
        self._too_fast = on

    def answer_late(self, seconds: float) -> None:
        """Wait `seconds` after reading a request before answering (a timeout)."""
        self._delay_s = seconds

    def accepted(self) -> list[Call]:
        """The calls whose message the service took."""
        with self._lock:
            return [c for c in self.calls if c.accepted]

    # -- serving -----------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        """Record the request and the reply: failing, garbage or the service's answer."""
        if self._delay_s:
            time.sleep(self._delay_s)
        if time.monotonic() < self._fail_until:
            reply = self.failing()
        elif self._garbage:
            reply = Reply(200, GARBAGE, headers={"Content-Type": "text/html"})
        else:
            try:
                reply = self.serve(request)
            except Exception as err:  # a stand-in's own bug must show, not hang the client
                reply = Reply(500, f"stand-in error: {err!r}".encode())
        with self._lock:
            self.calls.append(Call(self.clock(), request, reply))
        return reply

    def failing(self) -> Reply:
        """The answer while told to fail."""
        return Reply(500, b"Internal Server Error", headers={"Content-Type": "text/plain"})

    def admit(self, key: str) -> bool:
        """Count one message against `key`'s rate limit; False when over it."""
        if self._too_fast:
            return False
        now = self.clock()
        with self._lock:
            sent = self._sent.setdefault(key, deque())
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if len(sent) >= self.rate_per_min:
                return False
            sent.append(now)
            return True

    def serve(self, request: Request) -> Reply:
        """The service's answer to one request."""
        raise NotImplementedError


def _hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def _body(request: Request) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None


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
            return _json(200, {"errcode": 300001, "errmsg": "token is not exist"}, code=300001)
        if self.secret is not None:
            problem = self._sign_problem(request.query)
            if problem:
                return _json(200, {"errcode": 310000, "errmsg": problem}, code=310000)
        if len(request.body) > self.BODY_MAX_BYTES:
            said = {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
            return _json(200, said, code=460101)
        doc = _body(request)
        text = _dingtalk_text(doc) if doc else None
        if doc is None or text is None:
            return _json(200, {"errcode": 40035, "errmsg": "缺少参数 json"}, code=40035)
        if self.keyword and self.keyword not in text:
            said = {"errcode": 310000, "errmsg": "keywords not in content"}
            return _json(200, said, code=310000)
        if self.clock() < self._blocked_until or not self.admit(self.token):
            # Over 20 a minute: DingTalk blocks the robot for about 10 minutes.
            self._blocked_until = max(self._blocked_until, self.clock() + self.block_s)
            said = {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            return _json(200, said, code=130101)
        at = doc.get("at") or {}
        # DingTalk shows a mention only when the text also says "@<mobile>" / "@<userid>".
        named = [str(x) for x in (at.get("atMobiles") or []) + (at.get("atUserIds") or [])]
        shown = tuple(x for x in named if f"@{x}" in text)
        return _json(
            200, {"errcode": 0, "errmsg": "ok"}, code=0, accepted=True, text=text, mentions=shown
        )

    def _sign_problem(self, query: Mapping[str, str]) -> str | None:
        assert self.secret is not None
        ts = query.get("timestamp", "")
        if not ts.isdigit():
            return "sign not match: no timestamp"
        if abs(int(self.clock() * 1000) - int(ts)) > self.CLOCK_SKEW_MS:
            return "invalid timestamp"
        expected = _hmac_b64(self.secret.encode(), f"{ts}\n{self.secret}".encode())
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
            return _json(200, said, code=93000)
        doc = _body(request)
        if doc is None:
            return _json(200, {"errcode": 40035, "errmsg": "invalid json"}, code=40035)
        kind = doc.get("msgtype")
        if kind not in self.LIMITS or not isinstance(doc.get(kind), dict):
            return _json(200, {"errcode": 40008, "errmsg": "invalid message type"}, code=40008)
        part = doc[kind]
        content = part.get("content")
        if not isinstance(content, str) or not content:
            said = {"errcode": 40058, "errmsg": f"{kind}.content is required"}
            return _json(200, said, code=40058)
        if len(content.encode()) > self.LIMITS[kind]:
            limit = self.LIMITS[kind]
            said = {"errcode": 40058, "errmsg": f"{kind}.content exceed max length {limit}"}
            return _json(200, said, code=40058)
        if not self.admit(self.key):
            said = {"errcode": 45009, "errmsg": "api freq out of limit"}
            return _json(200, said, code=45009)
        # Only a text message mentions by mobile; markdown ignores mentioned_mobile_list.
        mobiles = part.get("mentioned_mobile_list") if kind == "text" else None
        shown = tuple(str(m) for m in mobiles or [])
        return _json(
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
            return _json(200, said, code=19001)
        if len(request.body) > self.BODY_MAX_BYTES:
            # Feishu's code for an oversize body is not documented: this one is ours.
            return _json(200, {"code": 19002, "msg": "request body too large"}, code=19002)
        doc = _body(request)
        if doc is None:
            return _json(400, {"code": 9499, "msg": "Bad Request"}, code=9499)
        if self.secret is not None:
            ts = str(doc.get("timestamp", ""))
            expected = _hmac_b64(f"{ts}\n{self.secret}".encode(), b"")
            fresh = ts.isdigit() and abs(self.clock() - int(ts)) <= self.CLOCK_SKEW_S
            if not fresh or not hmac.compare_digest(str(doc.get("sign", "")), expected):
                msg = "sign match fail or timestamp is not within one hour from current time"
                return _json(200, {"code": 19021, "msg": msg}, code=19021)
        read = _feishu_text(doc)
        if read is None:
            return _json(
                200, {"code": 19002, "msg": "params error, msg_type or content"}, code=19002
            )
        if not self.admit(self.token):
            return _json(200, {"code": 9499, "msg": "too many request"}, code=9499)
        text, people = read
        said = {"code": 0, "msg": "success", "data": {}}
        return _json(200, said, code=0, accepted=True, text=text, mentions=people)


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


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent encoding of UTF-8, written out here (not urllib's), as Aliyun's
    RPC signing specifies: A–Z a–z 0–9 - _ . ~ kept, every other byte %XX upper-case."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value.encode())


def aliyun_signature(params: Mapping[str, str], secret: str, method: str) -> str:
    """What Aliyun computes for an RPC request's `Signature` (signature version 1.0)."""
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in pairs)
    to_sign = f"{method}&%2F&{aliyun_percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsStandIn(HttpStandIn):
    """Aliyun's dysmsapi `SendSms` (RPC, 2017-05-25), GET or POST to `/`."""

    name = "sms"
    TIMESTAMP_SKEW_S: ClassVar[int] = 900  # Aliyun: within 15 minutes

    def __init__(
        self,
        access_key_id: str = "LTAI-standin",
        access_key_secret: str = "standin-secret",
        sign_name: str = "天新社区",
        templates: Mapping[str, str] | None = None,
        *,
        per_number_per_min: int = 1,  # Aliyun's default flow control: 1 a minute a number
        **kwargs: Any,
    ) -> None:
        super().__init__(rate_per_min=per_number_per_min, **kwargs)
        self.access_key_id, self.access_key_secret = access_key_id, access_key_secret
        self.sign_name = sign_name
        self.templates = dict(templates or {"SMS_000000": "${site}: ${rule}。请处理: ${link}"})
        self._nonces: set[str] = set()

    @property
    def url(self) -> str:
        """The endpoint (https://dysmsapi.aliyuncs.com in production)."""
        return self.base_url

    def failing(self) -> Reply:
        """Aliyun's InternalError at HTTP 500."""
        said = {
            "Code": "InternalError",
            "Message": "The request processing has failed due to some unknown error.",
            "RequestId": str(uuid.uuid4()),
        }
        return _json(500, said, code="InternalError")

    def serve(self, request: Request) -> Reply:
        """Aliyun's checks, in its order: the RPC request, its signature, then SendSms."""
        params = dict(request.query)
        if request.method == "POST":
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        problem = self._rpc_problem(request.method, params) or self._sms_problem(params)
        if problem:
            status, code, message = problem
            return _json(
                status,
                {"Code": code, "Message": message, "RequestId": str(uuid.uuid4())},
                code=code,
            )
        numbers = params["PhoneNumbers"].split(",")
        for number in numbers:
            if not self.admit(number):
                msg = f"触发分钟级流控Permits:{self.rate_per_min}"
                said = {
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": msg,
                    "RequestId": str(uuid.uuid4()),
                }
                return _json(200, said, code="isv.BUSINESS_LIMIT_CONTROL")
        text = f"【{params['SignName']}】" + self._render(params)
        said = {
            "Code": "OK",
            "Message": "OK",
            "BizId": f"{secrets.randbelow(10**12):012d}^0",
            "RequestId": str(uuid.uuid4()),
        }
        return _json(200, said, code="OK", accepted=True, text=text, mentions=tuple(numbers))

    def _rpc_problem(self, method: str, params: Mapping[str, str]) -> tuple[int, str, str] | None:
        for name in (
            "AccessKeyId",
            "Signature",
            "SignatureNonce",
            "Timestamp",
            "Version",
            "Action",
        ):
            if not params.get(name):
                return 400, f"Missing{name}", f"{name} is mandatory for this action."
        if params.get("Action") != "SendSms":
            return 404, "InvalidAction.NotFound", "Specified api is not found."
        if params.get("Version") != "2017-05-25":
            return 400, "InvalidVersion", "Specified parameter Version is not valid."
        if params.get("AccessKeyId") != self.access_key_id:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return 400, "InvalidParameter", "SignatureMethod HMAC-SHA1, SignatureVersion 1.0"
        try:
            when = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return 400, "InvalidTimeStamp.Format", "Specified time stamp is not valid."
        if abs(when.timestamp() - self.clock()) > self.TIMESTAMP_SKEW_S:
            return (
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date header is expired.",
            )
        expected = aliyun_signature(params, self.access_key_secret, method)
        if not hmac.compare_digest(params["Signature"], expected):
            return (
                400,
                "SignatureDoesNotMatch",
                "Specified signature is not matched with our calculation.",
            )
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
            self._nonces.add(params["SignatureNonce"])
        return None

    def _sms_problem(self, params: Mapping[str, str]) -> tuple[int, str, str] | None:
        numbers = [n for n in params.get("PhoneNumbers", "").split(",") if n]
        if not numbers:
            return 400, "MissingPhoneNumbers", "PhoneNumbers is mandatory for this action."
        if not all(n.isdigit() and len(n) == 11 and n.startswith("1") for n in numbers):
            return 200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"
        if params.get("SignName") != self.sign_name:
            return 200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名"
        template = self.templates.get(params.get("TemplateCode", ""))
        if template is None:
            return 200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板"
        try:
            values = orjson.loads(params.get("TemplateParam", "{}"))
        except orjson.JSONDecodeError:
            return 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return 200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"
        missing = [v for v in _template_vars(template) if v not in values]
        if missing:
            return 200, "isv.TEMPLATE_MISSING_PARAMETERS", f"模板缺少变量: {', '.join(missing)}"
        return None

    def _render(self, params: Mapping[str, str]) -> str:
        text = self.templates[params["TemplateCode"]]
        for name, value in orjson.loads(params.get("TemplateParam", "{}")).items():
            text = text.replace("${" + name + "}", value)
        return text


def _template_vars(template: str) -> list[str]:
    names, rest = [], template
    while "${" in rest:
        rest = rest.split("${", 1)[1]
        name, _, rest = rest.partition("}")
        names.append(name)
    return names


class WebhookReceiver(HttpStandIn):
    """A city platform's receiver: checks `X-Linli-Signature`, dedupes on `delivery`."""

    name = "webhook"

    def __init__(self, secret: str = "city-secret", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret = secret
        self.deliveries: dict[str, int] = {}  # delivery id → times received

    @property
    def url(self) -> str:
        """Where linli posts."""
        return f"{self.base_url}/linli"

    def serve(self, request: Request) -> Reply:
        """401 on a bad signature, 400 on a body without `delivery`, 429 too fast, else 200."""
        if request.method != "POST":
            return Reply(405, b"POST only")
        mac = hmac.new(self.secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("x-linli-signature", ""), f"sha256={mac}"):
            return _json(401, {"error": "bad signature"}, code=401)
        doc = _body(request)
        if doc is None or not isinstance(doc.get("delivery"), str):
            return _json(400, {"error": "a JSON object with a delivery"}, code=400)
        if not self.admit("receiver"):
            return Reply(429, b"slow down", code=429, headers={"Retry-After": "30"})
        with self._lock:
            self.deliveries[doc["delivery"]] = self.deliveries.get(doc["delivery"], 0) + 1
        text = f"{doc.get('event', '')} {doc.get('delivery')}"
        return _json(200, {"ok": True}, code=200, accepted=True, text=text)
