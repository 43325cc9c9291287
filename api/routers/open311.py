"""Open311 GeoReport v2 under `/open311/v2/` (CONTRACT §7): how city platforms complain.

`services.json` lists a noise and a fume service; `requests.json` takes a request (POST,
form-encoded as the specification has it, or JSON) and lists them (GET);
`requests/{id}.json` reads one. Only POST needs an `api_key`, a linli bearer token given
as the `api_key` field (query or form), an `X-API-Key` header or an `Authorization:
Bearer` header, scoped as on /api/v1. The GET documents are public, as the specification
has them: without a key they carry no personal data (no contact, no name, no phone, not
the resident's words, no address but the site's public name); with a key, as the
token's scope sees them (an id outside it is as one that does not exist). A request is
a complaint with source `open311`, judged and put on its case like any (api/intake.py);
its `status` is `closed` once its case is closed (by a grid worker, staff or an admin,
or by linli's verification), `status_notes` then the closing note; a case only resolved
(a merchant's "fixed") is still `open`, with a neutral line. `expected_datetime` is the
case's next deadline. Errors are GeoReport's `[{"code": <HTTP status>, "description":
"..."}]`.

Field names are the specification's (wiki.open311.org/GeoReport_v2): a service has
`service_code`, `service_name`, `description`, `metadata`, `type`, `keywords`, `group`;
a request `service_request_id`, `status`, `status_notes`, `service_name`, `service_code`,
`description`, `agency_responsible`, `service_notice`, `requested_datetime`,
`updated_datetime`, `expected_datetime`, `address`, `address_id`, `zipcode`, `lat`,
`long`, `media_url`; a POST answers `service_request_id`, `service_notice`, `account_id`.
"""

from __future__ import annotations

import logging
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
from linli.api.disclosure import reader_of
from linli.api.errors import neutral
from linli.api.params import MAX_ROW_ID, parse_time_ms
from linli.api.scope import Scope
from linli.api.services import Services, services
from linli.influx.client import InfluxError
from linli.rules.complaint import MAX_ADDRESS_CHARS, MAX_TEXT_CHARS, Source
from linli.rules.disclosure import Reader
from linli.rules.reading import SensorKind
from linli.store import Duplicate, Invalid, NotFound, StoreError
from linli.store.complaints import ComplaintRecord, ComplaintTx
from linli.store.tables import ID_LEN

PREFIX: Final = "/open311/v2"
log = logging.getLogger(__name__)


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
        (409, "a concurrent change to the same request; try again"),
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
    shown = neutral(code, description)
    return JSONResponse([{"code": code, "description": shown}], status_code=code)


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


API_KEY_HEADER: Final = "X-API-Key"


def _key(params: dict[str, str], request: Request) -> str | None:
    """The `Authorization` header's value for the request's api_key: the query's or the
    form's `api_key`, an `X-API-Key` header, or an `Authorization: Bearer` header."""
    key = params.get("api_key") or request.headers.get(API_KEY_HEADER)
    return f"Bearer {key}" if key else request.headers.get("authorization")


def _scope(svc: Services, params: dict[str, str], request: Request) -> Scope:
    client = request.client.host if request.client else "?"
    try:
        return Scope(authenticate(svc, _key(params, request)), svc.db)
    except Unauthorized:
        wait_s = svc.failed_attempts.retry_after_s(client)  # only failures are throttled
        svc.failed_attempts.failed(client)
        if wait_s is not None:
            raise TooManyFailures(
                f"too many failed tokens from {client}; try again in {wait_s} s"
            ) from None
        raise


def _reader(svc: Services, params: dict[str, str], request: Request) -> Scope | None:
    """The reading request's scope, or None for the public (no api_key: the GeoReport v2
    GET documents need none, CONTRACT §7); a key that is given must be valid."""
    if _key(params, request) is None:
        return None
    return _scope(svc, params, request)


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


# A case resolved (by the merchant, say) is not yet the resident's answer: it is
# `closed` only once closed by a grid worker, staff or an admin (or by linli when the
# verification window passed without a recurrence), with that closing note.
RESOLVED_NOTE: Final = "已报整改，待核实 (reported fixed, to be verified)"


def _status(view: dict[str, Any]) -> tuple[str, str, str]:
    """GeoReport's `status`, `status_notes` and `updated_datetime` of a complaint."""
    resolution = view["resolution"]
    if view["case_state"] == "closed":
        if resolution is not None and resolution["state"] == "closed":
            return "closed", resolution["note"], resolution["at"]
        return "closed", "", view["received"]
    if view["case_state"] == "resolved" and resolution is not None:
        return "open", RESOLVED_NOTE, resolution["at"]
    return "open", view["corroboration"]["summary"], view["received"]


def _request_doc(
    view: dict[str, Any], record: ComplaintRecord, site_names: dict[str, str] | None = None
) -> dict[str, Any]:
    """A complaint as a GeoReport v2 service request, from its view as the caller may read
    it (api/intake.py `view`): a merchant's key reads no resident's words, address or
    reference (CONTRACT §7) — `description` and `address` are null then. Public
    (`site_names` given, no api_key): no personal data: the service's name for
    `description` (never the resident's words), the site's public name for `address`
    (never the address the resident gave)."""
    status, notes, updated = _status(view)
    public = site_names is not None
    service = _NAMES.get(record.kind, record.kind)
    if public:
        assert site_names is not None
        address = None if record.site is None else site_names.get(record.site)
    else:
        address = view["address"]
    corroboration = view["corroboration"]
    reference = view["reference"]
    notice = (
        corroboration["verdict"]
        if reference is None
        else f"{reference}: {corroboration['verdict']}"
    )
    return {
        "service_request_id": str(record.id),
        "status": status,
        "status_notes": notes,
        "service_name": service,
        "service_code": record.kind,
        "description": service if public else view["text"],
        "agency_responsible": AGENCY,
        "service_notice": notice,
        "requested_datetime": view["received"],
        "updated_datetime": updated,
        "expected_datetime": None if status == "closed" else view["expected"],
        "address": address,
        "address_id": record.site,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _site_names(svc: Services) -> dict[str, str]:
    return {s.id: s.name for s in svc.db.sites()}


def _in_scope(scope: Scope, record: ComplaintRecord) -> bool:
    try:
        intake.in_scope(scope, record)
    except NotFound:
        return False
    return True


# The POST's fields as GeoReport v2 names them (wiki.open311.org/GeoReport_v2), each
# bounded: a field over its length is a 400, never stored (a 30,000-character name).
FIELD_CHARS: Final[dict[str, int]] = {
    "api_key": 200,
    "jurisdiction_id": 100,
    "service_code": 16,
    "description": MAX_TEXT_CHARS,
    "address_string": MAX_ADDRESS_CHARS,
    "address_id": ID_LEN,
    "lat": 40,
    "long": 40,
    "email": 100,
    "device_id": 100,
    "account_id": 100,
    "first_name": 50,
    "last_name": 50,
    "phone": 40,
    "media_url": 2000,
}
_REQUEST_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["service_code", "description"],
    "properties": {
        **{name: {"type": "string", "maxLength": n} for name, n in FIELD_CHARS.items()},
        "service_code": {"type": "string", "enum": [s["service_code"] for s in SERVICES]},
        "description": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
    },
}


def _bounded(params: dict[str, str]) -> None:
    """Invalid (400) for the first field over its length."""
    for name, chars in FIELD_CHARS.items():
        value = params.get(name)
        if value is not None and len(value) > chars:
            raise Invalid(f"{name} is over {chars} characters")


@router.post(
    "/requests.json",
    status_code=201,
    responses={200: {"description": "the same request was received already: the one kept"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": _REQUEST_FORM}},
        }
    },
)
async def post_request(request: Request) -> Any:
    """A city platform's request: a complaint with source `open311` (201); the same
    request again answers the one kept for it (200)."""
    params = await _form(request)
    if isinstance(params, JSONResponse):
        return params
    svc = services(request)

    def run() -> tuple[list[dict[str, Any]], bool]:
        scope = _scope(svc, params, request)
        _bounded(params)
        code = params.get("service_code", "")
        if code not in _NAMES:
            raise Invalid(f"service_code {code[:40]!r} is not one of {', '.join(_NAMES)}")
        text = params.get("description", "")
        address = params.get("address_string") or None
        name = " ".join(p for p in (params.get("first_name"), params.get("last_name")) if p)
        contact = {"name": name or None, "phone": params.get("phone") or None}
        filed = intake.receive(
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
        record = filed.record
        notice = f"{record.reference}: {record.verdict.value}"
        doc = {"service_request_id": str(record.id), "service_notice": notice, "account_id": None}
        return [doc], filed.new

    result = await _guarded(run)
    if isinstance(result, JSONResponse):
        return result
    docs, new = result
    # the same request again (a retry): the request kept for it, 200
    return JSONResponse(docs, status_code=201 if new else 200)


@router.get("/requests.json")
async def get_requests(request: Request) -> Any:
    """Requests, newest first: with an api_key those in its token's scope; without one,
    every request as the public may read it (no personal data). Filters: the
    specification's `service_request_id` (comma-separated), `service_code`, `status`,
    `start_date`, `end_date`; an id unknown or outside the scope is simply not listed."""
    params = _one(parse_qs(request.url.query))
    svc = services(request)

    def run() -> list[dict[str, Any]]:
        scope = _reader(svc, params, request)
        ids = [i for i in (params.get("service_request_id") or "").split(",") if i.strip()]
        start = params.get("start_date")
        end = params.get("end_date")
        start_ms = None if start is None else _time("start_date", start)
        end_ms = None if end is None else _time("end_date", end)
        names = _site_names(svc) if scope is None else None
        reader = reader_of(None if scope is None else scope.grant)
        out = []
        with svc.db.complaints() as tx:
            if ids:
                records = [r for i in ids[:100] if (r := _found(tx, i)) is not None]
            else:
                sites = None if scope is None or scope.whole else [s.id for s in scope.sites()]
                records, _ = tx.list_complaints(sites=sites, limit=1000)
            for record in records:
                if scope is not None and not _in_scope(scope, record):
                    continue  # as if it did not exist
                if params.get("service_code") and record.kind != params["service_code"]:
                    continue
                if start_ms is not None and record.received_ms < start_ms:
                    continue
                if end_ms is not None and record.received_ms >= end_ms:
                    continue
                doc = _listed(svc, tx, record, names, reader)
                if doc is None or (params.get("status") and doc["status"] != params["status"]):
                    continue
                out.append(doc)
        return out

    return await _guarded(run)


def _found(tx: ComplaintTx, text: str) -> ComplaintRecord | None:
    """The complaint of a listed id, if there is one (an id that is no number: none)."""
    try:
        return tx.complaint(_row_id(text))
    except NotFound:
        return None


def _listed(
    svc: Services,
    tx: ComplaintTx,
    record: ComplaintRecord,
    names: dict[str, str] | None,
    reader: Reader,
) -> dict[str, Any] | None:
    """A complaint's document in a list; one that cannot be shown (a row the store holds
    but linli cannot render) is left out and logged, never failing the list."""
    try:
        return _request_doc(intake.view(svc, tx, record, reader), record, names)
    except Exception:  # one bad row never breaks a list (CONTRACT §5: no 500)
        log.exception("service request %d: cannot be shown; left out of the list", record.id)
        return None


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
    """One request, as a list of one (the specification's shape): with an api_key as its
    token's scope sees it, without one as the public may read it. Unknown and outside
    the scope are the same 404."""
    params = _one(parse_qs(request.url.query))
    svc = services(request)

    def run() -> list[dict[str, Any]]:
        scope = _reader(svc, params, request)
        missing = NotFound(f"service request {request_id[:40]!r} does not exist")
        with svc.db.complaints() as tx:
            record = _found(tx, request_id)
        if record is None or (scope is not None and not _in_scope(scope, record)):
            raise missing
        record = intake.rejudge_one(svc, record)
        names = _site_names(svc) if scope is None else None
        with svc.db.complaints() as tx:
            return [
                _request_doc(
                    intake.view(svc, tx, record, reader_of(None if scope is None else scope.grant)),
                    record,
                    names,
                )
            ]

    return await _guarded(run)
