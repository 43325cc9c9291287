"""Bearer tokens and role scoping (CONTRACT §5): 401 without a token, 404 outside the scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.api.app import create_app
from linli.influx.client import InfluxClient
from linli.settings import Settings
from linli.store import Database
from linli.wiring import api_config
from tests.api.conftest import ADMIN_TOKEN, Headers, bearer

NEW_GRID = {"id": "g5", "name": "新网格"}


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status"),
    [
        pytest.param(None, "get", "/api/v1/sites", None, 401, id="no token → 401"),
        pytest.param("bogus", "get", "/api/v1/sites", None, 401, id="unknown token → 401"),
        pytest.param(None, "get", "/api/v1/rejected", None, 401, id="rejected without token → 401"),
        pytest.param(None, "get", "/api/v1/health", None, 200, id="health needs no token → 200"),
        pytest.param("admin", "post", "/api/v1/grids", NEW_GRID, 201, id="admin POST → 201"),
        pytest.param("staff", "get", "/api/v1/sites/ktv-1", None, 200, id="staff reads all → 200"),
        pytest.param("staff", "post", "/api/v1/grids", NEW_GRID, 403, id="staff POST → 403"),
        pytest.param(
            "staff", "patch", "/api/v1/sites/ktv-1", {"name": "x"}, 403, id="staff PATCH → 403"
        ),
        pytest.param(
            "grid_worker", "get", "/api/v1/sites/hj-b1", None, 200, id="worker, own grid → 200"
        ),
        pytest.param(
            "grid_worker", "get", "/api/v1/sites/ktv-1", None, 404, id="worker, other grid → 404"
        ),
        pytest.param(
            "grid_worker", "get", "/api/v1/grids/g2", None, 404, id="worker, other grid id → 404"
        ),
        pytest.param(
            "grid_worker",
            "get",
            "/api/v1/sensors/n-ktv-01",
            None,
            404,
            id="worker, sensor in other grid → 404",
        ),
        pytest.param("grid_worker", "post", "/api/v1/grids", NEW_GRID, 403, id="worker POST → 403"),
        pytest.param(
            "merchant", "get", "/api/v1/sites/rest-1", None, 200, id="merchant, own site → 200"
        ),
        pytest.param(
            "merchant",
            "get",
            "/api/v1/sites/hj-b1",
            None,
            404,
            id="merchant, another site in the same grid → 404",
        ),
        pytest.param(
            "merchant", "get", "/api/v1/grids/g1", None, 404, id="merchant, its grid → 404"
        ),
        pytest.param(
            "merchant",
            "patch",
            "/api/v1/sites/rest-1",
            {"name": "x"},
            403,
            id="merchant PATCH own site → 403",
        ),
        pytest.param(
            "merchant",
            "patch",
            "/api/v1/sites/ktv-1",
            {"name": "x"},
            404,
            id="merchant PATCH another site → 404, not 403",
        ),
        pytest.param(
            "merchant",
            "get",
            "/api/v1/sites/ktv-1/readings?metric=laeq",
            None,
            404,
            id="merchant, readings of another site → 404",
        ),
        pytest.param(
            "merchant",
            "post",
            "/api/v1/tokens",
            {"role": "staff"},
            403,
            id="merchant issuing a token → 403",
        ),
    ],
)
def test_access(
    client: TestClient,
    tokens: dict[str, Headers],
    who: str | None,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    headers = {} if who is None else tokens.get(who, bearer("linli_bogus"))
    response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"] in (
            "a bearer token is required",
            "the bearer token is not valid",
        )


def test_an_out_of_scope_site_reads_exactly_like_a_missing_one(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    other = client.get("/api/v1/sites/hj-b1", headers=tokens["merchant"])
    missing = client.get("/api/v1/sites/hj-b9", headers=tokens["merchant"])
    assert other.json() == {"detail": "site 'hj-b1' does not exist"}
    assert missing.json() == {"detail": "site 'hj-b9' does not exist"}


@pytest.mark.parametrize(
    ("who", "grids", "sites", "sensors"),
    [
        pytest.param(
            "staff",
            ["g1", "g2"],
            ["hj-b1", "ktv-1", "rest-1"],
            ["f-rest-01", "n-hj-01", "n-ktv-01", "n-rest-01"],
            id="staff sees the whole community",
        ),
        pytest.param(
            "grid_worker",
            ["g1"],
            ["hj-b1", "rest-1"],
            ["f-rest-01", "n-hj-01", "n-rest-01"],
            id="a grid worker sees their grid",
        ),
        pytest.param(
            "merchant",
            [],
            ["rest-1"],
            ["f-rest-01", "n-rest-01"],
            id="a merchant sees their site",
        ),
    ],
)
def test_lists_are_scoped(
    client: TestClient,
    tokens: dict[str, Headers],
    who: str,
    grids: list[str],
    sites: list[str],
    sensors: list[str],
) -> None:
    headers = tokens[who]
    listed = [
        [e["id"] for e in client.get(f"/api/v1/{what}", headers=headers).json()]
        for what in ("grids", "sites", "sensors")
    ]
    assert listed == [grids, sites, sensors]


def test_a_token_issued_by_admin_works_and_only_its_hash_is_kept(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    issued = client.post(
        "/api/v1/tokens",
        headers=tokens["admin"],
        json={"role": "grid_worker", "grids": ["g2"], "note": "李芳"},
    )
    assert issued.status_code == 201
    body = issued.json()
    assert {k: v for k, v in body.items() if k not in ("token", "created_ms")} == {
        "role": "grid_worker",
        "grids": ["g2"],
        "id": 4,  # the fixture issued three
        "site": None,
        "communities": None,
        "note": "李芳",
        "expires_ms": None,
    }
    sites = client.get("/api/v1/sites", headers=bearer(body["token"])).json()
    assert [s["id"] for s in sites] == ["ktv-1"]
    assert registry.resolve_token(body["token"]) is not None


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        pytest.param(
            {"role": "merchant", "site": "nowhere"},
            409,
            "role merchant: site 'nowhere' does not exist",
            id="merchant of an unknown site → 409",
        ),
        pytest.param(
            {"role": "grid_worker"},
            422,
            "body.grid_worker.grids: Field required",
            id="grid worker without grids → 422",
        ),
        pytest.param(
            {"role": "grid_worker", "grids": []},
            422,
            "body.grid_worker.grids: List should have at least 1 item after validation, not 0",
            id="grid worker with no grids → 422",
        ),
        pytest.param(
            {"role": "admin", "site": "rest-1"},
            422,
            "body.admin.site: Extra inputs are not permitted",
            id="an admin's token with a site → 422",
        ),
        pytest.param(
            {"role": "merchant", "site": "rest-1", "grids": ["g1"]},
            422,
            "body.merchant.grids: Extra inputs are not permitted",
            id="a merchant's token with grids → 422",
        ),
    ],
)
def test_a_token_scope_must_fit_its_role(
    client: TestClient, tokens: dict[str, Headers], body: dict[str, Any], status: int, detail: str
) -> None:
    response = client.post("/api/v1/tokens", headers=tokens["admin"], json=body)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


def test_an_unknown_role_is_refused(client: TestClient, tokens: dict[str, Headers]) -> None:
    response = client.post("/api/v1/tokens", headers=tokens["admin"], json={"role": "root"})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "body: Input tag 'root' found using 'role' does not match any of the expected tags: "
        "'admin', 'staff', 'grid_worker', 'merchant'"
    )


def test_without_linli_admin_token_no_token_is_admin(
    settings: Settings, registry: Database, influx: InfluxClient
) -> None:
    unset = settings.model_copy(update={"admin_token": None})
    client = TestClient(create_app(api_config(unset), registry, influx, lambda: True))
    for token in ("", "None", ADMIN_TOKEN):
        response = client.get("/api/v1/sites", headers=bearer(token))
        assert response.status_code == 401
