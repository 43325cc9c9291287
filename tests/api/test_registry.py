"""Grids, sites and sensors over HTTP: list, read, create, change, and their error codes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.store import Database
from tests.api.conftest import Headers

REST_1 = {
    "id": "rest-1",
    "name": "蜀味小馆",
    "name_en": "Shuwei Bistro",
    "kind": "shop",
    "category": "restaurant",
    "zone": "4a",
    "grid": "g1",
    "community": "",
    "address": "天城路101号",
    "merchant": {
        "name": "周老板",
        "contacts": [{"name": "周强", "phone": "139-0000-0101", "channels": {"sms": "1390"}}],
    },
    "cooking_heads": 2.0,
}


def test_lists_and_reads(client: TestClient, tokens: dict[str, Headers]) -> None:
    admin = tokens["admin"]
    grids = client.get("/api/v1/grids", headers=admin).json()
    assert grids == [
        {
            "id": "g1",
            "name": "东网格",
            "name_en": "East",
            "community": "",
            "workers": [{"name": "王丽", "phone": "138-0000-0001", "channels": {}}],
        },
        {"id": "g2", "name": "西网格", "name_en": "West", "community": "", "workers": []},
    ]
    assert [s["id"] for s in client.get("/api/v1/sites", headers=admin).json()] == [
        "hj-b1",
        "ktv-1",
        "rest-1",
    ]
    assert client.get("/api/v1/sites/rest-1", headers=admin).json() == REST_1
    assert client.get("/api/v1/sensors", headers=admin).json() == [
        {"id": "f-rest-01", "kind": "fume", "site": "rest-1", "community": ""},
        {"id": "n-hj-01", "kind": "noise", "site": "hj-b1", "community": ""},
        {"id": "n-ktv-01", "kind": "noise", "site": "ktv-1", "community": ""},
        {"id": "n-rest-01", "kind": "noise", "site": "rest-1", "community": ""},
    ]


def test_create_a_grid_a_site_and_a_sensor(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    admin = tokens["admin"]
    version = registry.registry_version()
    grid = client.post("/api/v1/grids", headers=admin, json={"id": "g3", "name": "南网格"})
    assert (grid.status_code, grid.json()) == (
        201,
        {"id": "g3", "name": "南网格", "name_en": "", "community": "", "workers": []},
    )
    site = client.post(
        "/api/v1/sites",
        headers=admin,
        json={
            "id": "bbq-1",
            "name": "夜市烧烤",
            "kind": "shop",
            "zone": "4a",
            "grid": "g3",
            "category": "bbq",
            "cooking_heads": 3,
        },
    )
    assert site.status_code == 201
    assert site.json()["cooking_heads"] == 3.0 and site.json()["merchant"] is None
    sensor = client.post(
        "/api/v1/sensors", headers=admin, json={"id": "f-bbq-01", "kind": "fume", "site": "bbq-1"}
    )
    assert (sensor.status_code, sensor.json()) == (
        201,
        {"id": "f-bbq-01", "kind": "fume", "site": "bbq-1", "community": ""},
    )
    assert registry.registry_version() == version + 3
    assert registry.load_registry().tags["f-bbq-01"].grid == "g3"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        pytest.param(
            "post",
            "/api/v1/grids",
            {"id": "g1", "name": "x"},
            409,
            "grid 'g1' already exists",
            id="duplicate grid → 409",
        ),
        pytest.param(
            "post",
            "/api/v1/sensors",
            {"id": "n-hj-01", "kind": "noise", "site": "hj-b1"},
            409,
            "sensor 'n-hj-01' already exists",
            id="duplicate sensor → 409",
        ),
        pytest.param(
            "post",
            "/api/v1/sites",
            {"id": "s9", "name": "x", "kind": "shop", "zone": "2", "grid": "g9"},
            409,
            "site 's9': grid 'g9' does not exist",
            id="site in an unknown grid → 409",
        ),
        pytest.param(
            "post",
            "/api/v1/sensors",
            {"id": "n-x-01", "kind": "noise", "site": "nowhere"},
            409,
            "sensor 'n-x-01': site 'nowhere' does not exist",
            id="sensor at an unknown site → 409",
        ),
        pytest.param(
            "patch",
            "/api/v1/sites/hj-b1",
            {"grid": "g9"},
            409,
            "site 'hj-b1': grid 'g9' does not exist",
            id="move a site to an unknown grid → 409",
        ),
        pytest.param(
            "patch",
            "/api/v1/sensors/n-hj-01",
            {"site": "nowhere"},
            409,
            "sensor 'n-hj-01': site 'nowhere' does not exist",
            id="move a sensor to an unknown site → 409",
        ),
        pytest.param(
            "get",
            "/api/v1/sites/nowhere",
            None,
            404,
            "site 'nowhere' does not exist",
            id="unknown site → 404",
        ),
        pytest.param(
            "get",
            "/api/v1/grids/g9",
            None,
            404,
            "grid 'g9' does not exist",
            id="unknown grid → 404",
        ),
        pytest.param(
            "get",
            "/api/v1/sensors/n-x-99",
            None,
            404,
            "sensor 'n-x-99' does not exist",
            id="unknown sensor → 404",
        ),
        pytest.param(
            "patch",
            "/api/v1/sites/nowhere",
            {"name": "x"},
            404,
            "site 'nowhere' does not exist",
            id="patch an unknown site → 404",
        ),
    ],
)
def test_errors(
    client: TestClient,
    tokens: dict[str, Headers],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    status: int,
    detail: str,
) -> None:
    response = client.request(method, path, headers=tokens["admin"], json=body)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param(
            "post",
            "/api/v1/sensors",
            {"id": "N_01", "kind": "noise", "site": "hj-b1"},
            "id",
            id="sensor id off the pattern → 422",
        ),
        pytest.param(
            "post",
            "/api/v1/sensors",
            {"id": "n-x-02", "kind": "smell", "site": "hj-b1"},
            "kind",
            id="unknown sensor kind → 422",
        ),
        pytest.param(
            "post",
            "/api/v1/sites",
            {"id": "s9", "name": "x", "kind": "shop", "zone": "5", "grid": "g1"},
            "zone",
            id="zone outside GB 3096 → 422",
        ),
        pytest.param(
            "post",
            "/api/v1/grids",
            {"id": "g4", "name": "x", "colour": "red"},
            "colour",
            id="unknown field → 422",
        ),
        pytest.param(
            "patch",
            "/api/v1/sites/hj-b1",
            {"cooking_heads": -1},
            "cooking_heads",
            id="negative cooking heads → 422",
        ),
    ],
)
def test_bodies_are_validated(
    client: TestClient,
    tokens: dict[str, Headers],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = client.request(method, path, headers=tokens["admin"], json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.split(":")[0].split(".")[-1] == field


def test_patch_null_only_where_a_field_allows_it(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    admin = tokens["admin"]
    refused = client.patch("/api/v1/sites/rest-1", headers=admin, json={"name": None})
    assert refused.status_code == 422
    assert refused.json()["detail"] == "body: Value error, name cannot be null"
    cleared = client.patch(
        "/api/v1/sites/rest-1", headers=admin, json={"merchant": None, "zone": "2"}
    )
    assert cleared.status_code == 200
    assert cleared.json() == {**REST_1, "merchant": None, "zone": "2"}


def test_patch_changes_only_what_is_sent(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    admin = tokens["admin"]
    version = registry.registry_version()
    workers = [{"name": "李芳", "phone": "138-0000-0003", "channels": {"sms": "13800000003"}}]
    grid = client.patch("/api/v1/grids/g2", headers=admin, json={"workers": workers})
    assert grid.json() == {
        "id": "g2",
        "name": "西网格",
        "name_en": "West",
        "community": "",
        "workers": workers,
    }
    sensor = client.patch("/api/v1/sensors/n-ktv-01", headers=admin, json={"site": "rest-1"})
    assert sensor.json() == {"id": "n-ktv-01", "kind": "noise", "site": "rest-1", "community": ""}
    assert registry.registry_version() == version + 2
    same = client.patch("/api/v1/sites/rest-1", headers=admin, json={"zone": "4a"})
    assert same.json() == REST_1
    assert registry.registry_version() == version + 2


def test_openapi_is_served_at_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/sites/{site_id}/readings" in paths
    assert set(paths["/api/v1/sites/{site_id}"]) == {"get", "patch"}
