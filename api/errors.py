"""The API's error answers: `{"detail": "<a sentence>"}` with a 4xx, or a neutral 503.

Every error body is one string (also a request that fails validation: FastAPI's list of
errors, which echoes the input and cannot encode a NaN, becomes one sentence). A failing
InfluxDB or case store is a 503 that names neither address nor driver message: those
go to the log (a readings range in year 9999 answered InfluxDB's address). No answer
carries a database driver's words either (a table, a constraint, the SQL): `neutral`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from linli.api.telemetry import RangeTooLarge
from linli.influx.client import InfluxError, InfluxUnavailable
from linli.store import Dangling, Duplicate, Invalid, NotFound, StateConflict, StoreError

log = logging.getLogger(__name__)


class ErrorOut(BaseModel):
    """Every error's body: one sentence naming the thing and the value."""

    detail: str


def _documented(code: int, description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# What every route behind a token may answer besides its own success (OpenAPI).
GUARDED: Final[dict[int | str, dict[str, Any]]] = {
    401: _documented(401, "no bearer token, or one linli does not know (or no longer)"),
    403: _documented(403, "the token's role may not do this (inside its scope)"),
    404: _documented(404, "no such entry, or one outside the token's scope"),
    413: _documented(413, "the request body is over LINLI_API_MAX_BODY_BYTES"),
    422: _documented(422, "a parameter or the body is not valid: the sentence says which"),
    429: _documented(429, "too many failed tokens from this client: see Retry-After"),
    503: _documented(503, "InfluxDB or the case store did not answer"),
}
# Routes that create: the id may be taken already, or a grid or site named not exist.
CREATING: Final[dict[int | str, dict[str, Any]]] = {
    409: _documented(409, "an entry with this id exists already, or one it names does not"),
}
# Routes that act on a case: its state may not allow the action now.
ACTING: Final[dict[int | str, dict[str, Any]]] = {
    409: _documented(409, "the case's state does not allow this now: the sentence says why"),
}
# Routes that change or issue: a grid or site named may not exist (yet).
REFERRING: Final[dict[int | str, dict[str, Any]]] = {
    409: _documented(409, "a grid or site it names does not exist"),
}

# Words of a database driver's or the interpreter's own messages (a table, a constraint,
# the SQL, a traceback): a sentence carrying one is never shown, its status's plain one
# is (and it goes to the log). The store raises neutral sentences (store/database.py):
# this is the net under every error answer, the API's, Open311's and the board's.
_DRIVER_WORDS: Final = re.compile(
    r"constraint|sqlite|psycopg|sqlalchemy|traceback|unique|\bselect\b|\binsert\b|\[sql", re.I
)
_PLAIN: Final[dict[int, str]] = {
    400: "the request is not valid",
    404: "no such entry, or one outside the token's scope",
    409: "conflicts with the current state of the entry; try again",
    422: "a parameter or the body is not valid",
}


def neutral(code: int, detail: str) -> str:
    """`detail`, or the plain sentence of its status when it carries a driver's words."""
    if _DRIVER_WORDS.search(detail) is None:
        return detail
    log.warning("an error answer (%d) held a driver's words, not shown: %s", code, detail)
    return _PLAIN.get(code, "the request could not be done")


_STORE_NEUTRAL: Final = "the case store did not answer"
STORE_DOWN: Final = f"{_STORE_NEUTRAL}; try again later"  # the answer

# The project's errors, the status each one means and, for a failing dependency, the
# neutral sentence shown instead of its message; checked in this order.
_STATUS: Final[tuple[tuple[type[Exception], int, str | None], ...]] = (
    (NotFound, status.HTTP_404_NOT_FOUND, None),
    (Duplicate, status.HTTP_409_CONFLICT, None),
    (Dangling, status.HTTP_409_CONFLICT, None),
    (StateConflict, status.HTTP_409_CONFLICT, None),
    (Invalid, status.HTTP_422_UNPROCESSABLE_CONTENT, None),
    (RangeTooLarge, status.HTTP_422_UNPROCESSABLE_CONTENT, None),
    (StoreError, status.HTTP_503_SERVICE_UNAVAILABLE, _STORE_NEUTRAL),
    (InfluxUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "InfluxDB did not answer"),
    (InfluxError, status.HTTP_503_SERVICE_UNAVAILABLE, "InfluxDB could not answer this query"),
)


def install(app: FastAPI) -> None:
    """Add the handlers of the project's errors and of request validation to `app`."""
    for error, code, plain in _STATUS:
        app.add_exception_handler(error, _handler(code, plain))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own errors: a 405 names every method the path has (not
    only those of the first route matched), and a body that is not UTF-8 is a 422 like
    any other body that is not JSON (FastAPI answers it 400)."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    code, detail = exc.status_code, exc.detail
    if code == status.HTTP_405_METHOD_NOT_ALLOWED:
        headers["Allow"] = ", ".join(sorted(allowed_methods(request)))
    elif code == status.HTTP_400_BAD_REQUEST:  # only FastAPI's "error parsing the body"
        code, detail = status.HTTP_422_UNPROCESSABLE_CONTENT, "body: not JSON (UTF-8 text)"
    if isinstance(detail, str):
        detail = neutral(code, detail)
    return JSONResponse({"detail": detail}, status_code=code, headers=headers)


def allowed_methods(request: Request) -> set[str]:
    """The methods of every route whose path matches the request's."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return methods


def _handler(code: int, plain: str | None) -> Callable[[Request, Exception], JSONResponse]:
    def handle(request: Request, exc: Exception) -> JSONResponse:
        if plain is None:
            return JSONResponse({"detail": neutral(code, str(exc))}, status_code=code)
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"{plain}; try again later"}, status_code=code)

    return handle


def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse(
        {"detail": neutral(code, validation_sentence(exc.errors()))},
        status_code=code,
    )


def validation_sentence(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence: where and what, never the input."""
    parts = []
    for error in errors[:10]:
        where = ".".join(str(x) for x in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    if len(errors) > 10:
        parts.append(f"and {len(errors) - 10} more")
    return "; ".join(parts)
