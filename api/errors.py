"""The API's error answers: `{"detail": "<a sentence>"}` with a 4xx, or a neutral 503.

Every error body is one string (also a request that fails validation: FastAPI's list of
errors, which echoes the input and cannot encode a NaN, becomes one sentence). A failing
InfluxDB or case store is a 503 that names neither address nor driver message: those
go to the log (issue 12: a readings range in year 9999 answered InfluxDB's address).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from linli.api.telemetry import RangeTooLarge
from linli.influx.client import InfluxError, InfluxUnavailable
from linli.store import Duplicate, Invalid, NotFound, StoreError

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
# Routes that create: the id may be taken already.
CREATING: Final[dict[int | str, dict[str, Any]]] = {
    409: _documented(409, "an entry with this id exists already"),
}

_STORE_NEUTRAL: Final = "the case store did not answer"
STORE_DOWN: Final = f"{_STORE_NEUTRAL}; try again later"  # the answer

# The project's errors, the status each one means and, for a failing dependency, the
# neutral sentence shown instead of its message; checked in this order.
_STATUS: Final[tuple[tuple[type[Exception], int, str | None], ...]] = (
    (NotFound, status.HTTP_404_NOT_FOUND, None),
    (Duplicate, status.HTTP_409_CONFLICT, None),
    (Invalid, status.HTTP_422_UNPROCESSABLE_CONTENT, None),
    (RangeTooLarge, status.HTTP_422_UNPROCESSABLE_CONTENT, None),
    (StoreError, status.HTTP_503_SERVICE_UNAVAILABLE, _STORE_NEUTRAL),
    (InfluxUnavailable, status.HTTP_503_SERVICE_UNAVAILABLE, "InfluxDB did not answer"),
    (InfluxError, status.HTTP_503_SERVICE_UNAVAILABLE, "InfluxDB could not answer this query"),
)


def install(app: FastAPI) -> None:
    """Add the handlers of the project's errors and of request validation to `app`."""
    for error, code, neutral in _STATUS:
        app.add_exception_handler(error, _handler(code, neutral))
    app.add_exception_handler(RequestValidationError, _invalid_request)


def _handler(code: int, neutral: str | None) -> Callable[[Request, Exception], JSONResponse]:
    def handle(request: Request, exc: Exception) -> JSONResponse:
        if neutral is None:
            return JSONResponse({"detail": str(exc)}, status_code=code)
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"{neutral}; try again later"}, status_code=code)

    return handle


def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": validation_sentence(exc.errors())},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
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
