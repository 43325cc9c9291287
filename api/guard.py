"""The guard in front of every route: the token first, then a bounded body (issue 12).

A pure ASGI middleware, so that nothing is read before it decides: a request to
`/api/v1` (but `/health` without an Authorization header) without a valid bearer token
is answered 401 before its body is read, and a body over `max_body_bytes` 413 — at once
when `Content-Length` says so, as soon as the limit is passed when the body is chunked.
Before, an unauthenticated 200 MB body was read and parsed (linli 757 → 1,351 MB) before the 401.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linli.api.auth import Unauthorized, authenticate
from linli.api.errors import STORE_DOWN
from linli.api.services import Services
from linli.store import StoreError

log = logging.getLogger(__name__)

# Under the prefix, a token is optional here (CONTRACT §5): without one `/health` shows
# statuses only; a token given is checked like any other (401, 429), and an admin's or
# staff's shows the details (addresses, paths).
OPEN_PATHS: Final = frozenset({"/health"})


class Guard:
    """Authenticate, then let through a body of at most `max_body_bytes`."""

    def __init__(self, app: ASGIApp, *, prefix: str, max_body_bytes: int) -> None:
        self.app = app
        self.prefix = prefix
        self.max_body_bytes = max_body_bytes

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
            wait_s = services.failed_attempts.retry_after_s(client)
            if wait_s is not None:
                detail = f"too many failed tokens from {client}; try again in {wait_s} s"
                await _answer(scope, receive, send, 429, detail, {"Retry-After": str(wait_s)})
                return
            header = _header(scope, b"authorization")
            try:
                found = await anyio.to_thread.run_sync(authenticate, services, header)
            except Unauthorized as err:
                services.failed_attempts.failed(client)
                await _answer(scope, receive, send, 401, str(err), {"WWW-Authenticate": "Bearer"})
                return
            except StoreError as err:  # outside the app's handlers: answered the same way
                log.warning("%s %s: %s", scope["method"], path, err)
                await _answer(scope, receive, send, 503, STORE_DOWN)
                return
            scope.setdefault("state", {})["grant"] = found
        length = _header(scope, b"content-length")
        if length is None:
            await self._buffered(scope, receive, send)
        elif not length.isdigit() or int(length) > self.max_body_bytes:
            await _answer(scope, receive, send, 413, self._too_large())
        else:
            await self.app(scope, receive, send)  # h11 holds the body to its Content-Length

    async def _buffered(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A chunked body (no length said): read up to the limit first, then replay it."""
        parts: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            part = message.get("body", b"")
            seen += len(part)
            if seen > self.max_body_bytes:
                await _answer(scope, receive, send, 413, self._too_large())
                return
            parts.append(part)
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _too_large(self) -> str:
        return f"the request body is over the {self.max_body_bytes}-byte limit"


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
