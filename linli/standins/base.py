"""The stand-ins' HTTP server: requests recorded, behaviour switched (too fast, HTTP 500,
garbage, late), the rate limit; each service's answers are a subclass's `serve`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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


def json_reply(status: int, doc: Mapping[str, Any], **understood: Any) -> Reply:
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
            target=self._server.serve_forever,
            args=(0.05,),  # poll interval: stop() returns within 50 ms
            name=f"standin-{self.name}",
            daemon=True,
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


def hmac_b64(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def json_body(request: Request) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    return doc if isinstance(doc, dict) else None
