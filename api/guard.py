"""The guard in front of every route: the token first, then a bounded body (no stranger's
body is read, and no body beyond the limit).

A pure ASGI middleware, so that nothing is read before it decides: a request to
`/api/v1` (but `/health` without an Authorization header) without a valid bearer token
is answered 401 before its body is read, and a body over `max_body_bytes` 413 — at once
when `Content-Length` says so, as soon as the limit is passed when the body is chunked.
Before, an unauthenticated 200 MB body was read and parsed (linli 757 → 1,351 MB) before the 401.

The case board's photo uploads (`upload_path`: a case's action form) get their own,
larger bound, and only with a valid board session: every other board path, and an upload
without a session, keeps `max_body_bytes` (before, any `/board/` path buffered up to
32 MiB of a chunked body before routing or sign-in). A chunked body is spooled: up to
SPOOL_MEMORY_BYTES in memory, the rest in a temporary file, so memory is returned.
"""

from __future__ import annotations

import logging
import re
import tempfile
from typing import Any, Final

import anyio
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linli.api.auth import Unauthorized, authenticate
from linli.api.board import sessions
from linli.api.errors import STORE_DOWN
from linli.api.services import Services
from linli.store import StoreError

log = logging.getLogger(__name__)

# Under the prefix, a token is optional here (CONTRACT §5): without one `/health` shows
# statuses only; a token given is checked like any other (401, 429), and an admin's or
# staff's shows the details (addresses, paths).
OPEN_PATHS: Final = frozenset({"/health"})
BOARD_PREFIX: Final = "/board/"
SPOOL_MEMORY_BYTES: Final = 1 << 20  # of a chunked body; the rest waits on disk
REPLAY_CHUNK_BYTES: Final = 64 * 1024


class Guard:
    """Authenticate, then let through a body of at most `max_body_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        max_body_bytes: int,
        upload_path: re.Pattern[str] | None = None,
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.max_body_bytes = max_body_bytes
        # the case board's action form carries photos: its own, larger bound (api/board/)
        self.upload_path = upload_path
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 401 or 413 without reading the body, or pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        open_path = path[len(self.prefix) :] in OPEN_PATHS
        if path.startswith(self.prefix + "/") and (
            not open_path or _header(scope, b"authorization") is not None
        ):
            services: Services = scope["app"].state.services
            client = (scope.get("client") or ("?", 0))[0]
            header = _header(scope, b"authorization")
            try:
                found = await anyio.to_thread.run_sync(authenticate, services, header)
            except Unauthorized as err:
                # only failures are throttled: a valid token from the same address (a NAT,
                # a proxy) still works while someone there guesses
                wait_s = services.failed_attempts.retry_after_s(client)
                services.failed_attempts.failed(client)
                if wait_s is not None:
                    detail = f"too many failed tokens from {client}; try again in {wait_s} s"
                    retry = {"Retry-After": str(wait_s)}
                    await _answer(scope, receive, send, 429, detail, retry)
                    return
                await _answer(scope, receive, send, 401, str(err), {"WWW-Authenticate": "Bearer"})
                return
            except StoreError as err:  # outside the app's handlers: answered the same way
                log.warning("%s %s: %s", scope["method"], path, err)
                await _answer(scope, receive, send, 503, STORE_DOWN)
                return
            scope.setdefault("state", {})["grant"] = found
        page = path.startswith(BOARD_PREFIX)  # a person's form: refused with a page
        limit = self.max_body_bytes
        if (
            self.upload_path is not None
            and scope["method"] == "POST"
            and self.upload_path.fullmatch(path)
            and await self._signed_in(scope)
        ):
            limit = self.max_upload_bytes
        length = _header(scope, b"content-length")
        if length is None:
            await self._buffered(scope, receive, send, limit, page)
        elif not length.isdigit() or int(length) > limit:
            await self._refuse(scope, receive, send, limit, page)
        else:
            await self.app(scope, receive, send)  # h11 holds the body to its Content-Length

    async def _signed_in(self, scope: Scope) -> bool:
        """Whether the request has a valid board session (its cookie, checked as a page
        checks it); a store that fails counts as no session (the small bound)."""
        services: Services = scope["app"].state.services
        try:
            found = await anyio.to_thread.run_sync(sessions.current, Request(scope), services)
        except StoreError:
            return False
        return found is not None

    async def _buffered(
        self, scope: Scope, receive: Receive, send: Send, limit: int, page: bool
    ) -> None:
        """A chunked body (no length said): read up to the limit into a spool (memory,
        then disk), then replay it in chunks."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
            seen = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                part = message.get("body", b"")
                seen += len(part)
                if seen > limit:
                    await self._refuse(scope, receive, send, limit, page)
                    return
                spool.write(part)
                if not message.get("more_body", False):
                    break
            spool.seek(0)
            done = False

            async def replay() -> Message:
                nonlocal done
                if done:
                    return await receive()  # after the body: a disconnect, as uvicorn says
                part = spool.read(REPLAY_CHUNK_BYTES)
                more = spool.tell() < seen
                done = not more
                return {"type": "http.request", "body": part, "more_body": more}

            await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, limit: int, page: bool
    ) -> None:
        if not page:
            detail = f"the request body is over the {limit}-byte limit"
            await _answer(scope, receive, send, 413, detail)
            return
        mb = limit / (1 << 20)
        html = (  # a person's form: a page they can read, and the way back
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>提交内容过大</title><h1 id="error">提交内容过大</h1>'
            f"<p>一次提交最多 {mb:g} MB（照片请少选几张或压缩后再传）。工单没有改变。</p>"
            '<p><a href="/board/cases">返回我的工单</a></p></html>'
        )
        response = HTMLResponse(html, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _answer(
    scope: Scope, receive: Receive, send: Send, code: int, detail: str, headers: Any = None
) -> None:
    response = JSONResponse(
        {"detail": detail}, status_code=code, headers={**(headers or {}), "Connection": "close"}
    )
    await response(scope, receive, send)
