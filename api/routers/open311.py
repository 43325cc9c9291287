"""Open311 GeoReport v2 under `/open311/v2/` (CONTRACT §7): how city platforms complain.

`services.json` lists a noise and a fume service; `requests.json` takes a request (POST,
form-encoded as the specification has it, or JSON) and lists them (GET);
`requests/{id}.json` reads one. `api_key` is a linli bearer token (also accepted as an
`Authorization: Bearer` header), scoped as on /api/v1. A request is a complaint with
source `open311`, judged and put on its case like any (api/intake.py); its `status` is
`closed` once its case is resolved or closed, `status_notes` the resolution's note, and
`expected_datetime` the case's next deadline. Errors are GeoReport's
`[{"code": <HTTP status>, "description": "..."}]`.

Field names are the specification's (wiki.open311.org/GeoReport_v2): a service has
`service_code`, `service_name`, `description`, `metadata`, `type`, `keywords`, `group`;
a request `service_request_id`, `status`, `status_notes`, `service_name`, `service_code`,
`description`, `agency_responsible`, `service_notice`, `requested_datetime`,
`updated_datetime`, `expected_datetime`, `address`, `address_id`, `zipcode`, `lat`,
`long`, `media_url`; a POST answers `service_request_id`, `service_notice`, `account_id`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from linli.api import intake
from linli.api.auth import Unauthorized, authenticate
from linli.api.params import MAX_ROW_ID, parse_time_ms
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.influx.client import InfluxError
from linli.rules.complaint import MAX_ADDRESS_CHARS, MAX_TEXT_CHARS, Source
from linli.rules.reading import SensorKind
from linli.store import Duplicate, Invalid, NotFound, StoreError
from linli.store.complaints import ComplaintRecord

PREFIX: Final = "/open311/v2"


class Open311Error(BaseModel):
    """GeoReport v2's error: the HTTP status and a sentence."""

    code: int
    description: str


_ERRORS: Final[dict[int | str, dict[str, Any]]] = {
    code: {"model": list[Open311Error], "description": text}
    for code, text in (
        (400, "a field is missing or not valid"),
        (401, "no api_key, or one linli does not know"),
        (403, "the token's role may not do this"),
        (404, "no such request, or one outside the token's scope"),
        (409, "the same request was received already"),
        (429, "too many wrong api_keys from this client"),
        (422, "a parameter is not valid"),
        (503, "InfluxDB or the case store did not answer"),
    )
}
router = APIRouter(prefix=PREFIX, tags=["open311"], responses=_ERRORS)

AGENCY: Final = "社区网格 community grid"
SERVICES: Final = (
    {
        "service_code": SensorKind.NOISE.value,
        "service_name": "噪声扰民 Noise nuisance",
        "description": "Noise from shops, KTV, fans or air conditioners disturbing residents "
        "(GB 3096-2008, GB 22337-2008)",
        "metadata": False,
        "type": "realtime",
        "keywords": "noise,噪声,KTV",
        "group": "environment",
    },
    {
        "service_code": SensorKind.FUME.value,
        "service_name": "油烟扰民 Cooking fume nuisance",
        "description": "Cooking fume from a restaurant's exhaust (GB 18483-2001)",
        "metadata": False,
        "type": "realtime",
        "keywords": "fume,油烟,restaurant",
        "group": "environment",
    },
)
_NAMES: Final[dict[str, str]] = {str(s["service_code"]): str(s["service_name"]) for s in SERVICES}
MAX_FORM_BYTES: Final = 64 * 1024

T = TypeVar("T")


def _errors(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def _headers(code: int) -> dict[str, str]:
    return {"WWW-Authenticate": "Bearer"} if code == 401 else {}


async def _guarded(call: Callable[[], T]) -> T | JSONResponse:
    """Run a blocking call off the event loop, its errors as GeoReport's error list."""
    try:
        return await run_in_threadpool(call)
    except Unauthorized as err:
        response = _errors(401, str(err))
        response.headers.update(_headers(401))
        return response
    except TooManyFailures as err:
        return _errors(429, str(err))
    except HTTPException as err:
        return _errors(err.status_code, str(err.detail))
    except NotFound as err:
        return _errors(404, str(err))
    except Duplicate as err:
        return _errors(409, str(err))
    except Invalid as err:
        return _errors(400, str(err))
    except (StoreError, InfluxError):
        return _errors(503, "the service is unavailable; try again")


class TooManyFailures(Exception):
    """A client that sent too many wrong api_keys (api/throttle.py, as on /api/v1)."""


def _scope(svc: Services, params: dict[str, str], request: Request) -> Scope:
    client = request.client.host if request.client else "?"
    key = params.get("api_key")
    header = f"Bearer {key}" if key else request.headers.get("authorization")
    try:
        return Scope(authenticate(svc, header), svc.db)
    except Unauthorized:
        wait_s = svc.failed_attempts.retry_after_s(client)  # only failures are throttled
        svc.failed_attempts.failed(client)
        if wait_s is not None:
            raise TooManyFailures(
                f"too many failed tokens from {client}; try again in {wait_s} s"
            ) from None
        raise


def _one(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[0] for k, v in values.items() if v}


async def _form(request: Request) -> dict[str, str] | JSONResponse:
    """The POST's fields: form-encoded (the specification) or a JSON object, bounded."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return _errors(413, f"the request is over {MAX_FORM_BYTES} bytes")
    params = _one(parse_qs(request.url.query))
    kind = request.headers.get("content-type", "")
    if "json" in kind:
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            return _errors(400, "the body is not JSON")
        if not isinstance(doc, dict):
            return _errors(400, "the body is not a JSON object")
        params.update({k: str(v) for k, v in doc.items() if v is not None})
    else:
        try:
            params.update(_one(parse_qs(body.decode("utf-8"), keep_blank_values=True)))
        except UnicodeDecodeError:
            return _errors(400, "the body is not UTF-8")
    return params


@router.get("/services.json")
def list_services() -> list[dict[str, Any]]:
    """The services a request may name: noise and fume."""
    return [dict(s) for s in SERVICES]


def _request_doc(view: dict[str, Any], record: ComplaintRecord) -> dict[str, Any]:
    """A complaint as a GeoReport v2 service request."""
    resolution = view["resolution"]
    closed = resolution is not None
    corroboration = view["corroboration"]
    return {
        "service_request_id": str(record.id),
        "status": "closed" if closed else "open",
        "status_notes": resolution["note"] if closed else corroboration["summary"],
        "service_name": _NAMES.get(record.kind, record.kind),
        "service_code": record.kind,
        "description": record.text,
        "agency_responsible": AGENCY,
        "service_notice": f"{view['reference']}: {corroboration['verdict']}",
        "requested_datetime": view["received"],
        "updated_datetime": resolution["at"] if closed else view["received"],
        "expected_datetime": view["expected"],
        "address": record.address,
        "address_id": record.site,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _in_scope(scope: Scope, record: ComplaintRecord) -> bool:
    try:
        intake.in_scope(scope, record)
    except NotFound:
        return False
    return True


# The POST's fields as GeoReport v2 names them, form-encoded (JSON is taken too).
_REQUEST_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["service_code", "description"],
    "properties": {
        "api_key": {"type": "string", "maxLength": 200},
        "service_code": {"type": "string", "enum": [s["service_code"] for s in SERVICES]},
        "description": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
        "address_string": {"type": "string", "maxLength": MAX_ADDRESS_CHARS},
        "address_id": {"type": "string", "maxLength": 64},
        "first_name": {"type": "string", "maxLength": 50},
        "last_name": {"type": "string", "maxLength": 50},
        "phone": {"type": "string", "maxLength": 40},
    },
}


@router.post(
    "/requests.json",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _REQUEST_FORM}},
        }
    },
)
async def post_request(request: Request) -> Any:
    """A city platform's request: a complaint with source `open311`."""
    params = await _form(request)
    if isinstance(params, JSONResponse):
        return params
    svc = services(request)

    def run() -> list[dict[str, Any]]:
        scope = _scope(svc, params, request)
        code = params.get("service_code", "")
        if code not in _NAMES:
            raise Invalid(f"service_code {code[:40]!r} is not one of {', '.join(_NAMES)}")
        text = params.get("description", "")
        if len(text) > MAX_TEXT_CHARS:
            raise Invalid(f"description is over {MAX_TEXT_CHARS} characters")
        address = params.get("address_string") or None
        if address is not None and len(address) > MAX_ADDRESS_CHARS:
            raise Invalid(f"address_string is over {MAX_ADDRESS_CHARS} characters")
        name = " ".join(p for p in (params.get("first_name"), params.get("last_name")) if p)
        contact = {"name": name or None, "phone": params.get("phone") or None}
        record = intake.receive(
            svc,
            scope,
            intake.Intake(
                kind=SensorKind(code),
                text=text,
                source=Source.OPEN311.value,
                site=params.get("address_id") or None,
                address=address,
                contact=contact if any(contact.values()) else None,
            ),
        )
        notice = f"{record.reference}: {record.verdict.value}"
        return [
            {"service_request_id": str(record.id), "service_notice": notice, "account_id": None}
        ]

    result = await _guarded(run)
    if isinstance(result, JSONResponse):
        return result
    return JSONResponse(result, status_code=201)


@router.get("/requests.json")
async def get_requests(request: Request) -> Any:
    """Requests in the token's scope: by `service_request_id` (comma-separated),
    `service_code`, `status`, `start_date`, `end_date` (the specification's filters)."""
    params = _one(parse_qs(request.url.query))
    svc = services(request)

    def run() -> list[dict[str, Any]]:
        scope = _scope(svc, params, request)
        ids = [i for i in (params.get("service_request_id") or "").split(",") if i.strip()]
        start = params.get("start_date")
        end = params.get("end_date")
        start_ms = None if start is None else _time("start_date", start)
        end_ms = None if end is None else _time("end_date", end)
        out = []
        with svc.db.complaints() as tx:
            if ids:
                records = [tx.complaint(_row_id(i)) for i in ids[:100]]
            else:
                sites = None if scope.whole else [s.id for s in scope.sites()]
                records, _ = tx.list_complaints(sites=sites, limit=1000)
            for record in records:
                if not _in_scope(scope, record):
                    if ids:
                        raise NotFound(f"service request {record.id} does not exist")
                    continue
                if params.get("service_code") and record.kind != params["service_code"]:
                    continue
                if start_ms is not None and record.received_ms < start_ms:
                    continue
                if end_ms is not None and record.received_ms >= end_ms:
                    continue
                doc = _request_doc(intake.view(svc, tx, record), record)
                if params.get("status") and doc["status"] != params["status"]:
                    continue
                out.append(doc)
        return out

    return await _guarded(run)


def _time(name: str, value: str) -> int:
    try:
        return parse_time_ms(name, value)
    except HTTPException as err:
        raise Invalid(str(err.detail)) from err


def _row_id(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= MAX_ROW_ID:
        raise NotFound(f"service request {text[:40]!r} does not exist")
    return int(text)


@router.get("/requests/{request_id}.json")
async def get_request(request_id: str, request: Request) -> Any:
    """One request, as a list of one (the specification's shape)."""
    params = _one(parse_qs(request.url.query))
    svc = services(request)

    def run() -> list[dict[str, Any]]:
        scope = _scope(svc, params, request)
        with svc.db.complaints() as tx:
            record = tx.complaint(_row_id(request_id))
            if not _in_scope(scope, record):
                raise NotFound(f"service request {request_id} does not exist")
        record = intake.rejudge_one(svc, record)
        with svc.db.complaints() as tx:
            return [_request_doc(intake.view(svc, tx, record), record)]

    return await _guarded(run)
