"""Every string and number the API takes is bounded: 422 with a sentence, never a 500.

Each reproduced for a merchant and for the admin: offsets and ids
SQLite cannot hold, times of thousands of digits, intervals of 10²⁰ days, NaN and
Infinity, ten-megabyte names and comments, a readings range in year 9999 (which
must not answer InfluxDB's address).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from linli.rules.engine.engine import Engine
from linli.rules.policy import RulePolicy
from linli.store import Database
from tests.api.conftest import Headers
from tests.api.test_cases import fume
from tests.rules.conftest import local_ms

BIG = 10**20
MB10 = "名" * (10 * 1024 * 1024 // 3)
T0 = 1_764_201_600_000

QUERIES = [
    pytest.param("/api/v1/cases?offset=" + str(BIG), "query.offset", id="cases offset 10^20"),
    pytest.param("/api/v1/rejected?offset=" + str(BIG), "query.offset", id="rejected offset"),
    pytest.param("/api/v1/deliveries?offset=" + str(BIG), "query.offset", id="deliveries offset"),
    pytest.param(f"/api/v1/rejected?from={BIG}", "from: '1000", id="rejected from 10^20"),
    pytest.param(f"/api/v1/cases?from={BIG}", "from: '1000", id="cases from 10^20"),
    pytest.param("/api/v1/cases/" + str(BIG), "path.case_id", id="case id 10^20"),
    pytest.param("/api/v1/cases/0", "path.case_id", id="case id 0"),
    pytest.param(f"/api/v1/cases/{BIG}/deliveries", "path.case_id", id="deliveries of id 10^20"),
    pytest.param("/api/v1/cases?from=" + "9" * 4300, "query.from", id="a from of 4,300 digits"),
    pytest.param(
        "/api/v1/rejected?from=" + "9" * 4300, "query.from", id="a rejected from of 4,300 digits"
    ),
    pytest.param(
        f"/api/v1/sites/rest-1/readings?metric=laeq&from={T0}&to={T0 + 1}&every={BIG}d",
        "query.every: String should have at most 16 characters",
        id="every 10^20 days",
    ),
    pytest.param(
        f"/api/v1/sites/rest-1/readings?metric=laeq&from={T0}&to={T0 + 1}&every=999999999999d",
        "every: '999999999999d' is longer than 366 days",
        id="every 10^12 days",
    ),
    pytest.param(
        f"/api/v1/sites/rest-1/readings?metric=laeq&from={T0}&to={T0 + 1}&every=367d",
        "every: '367d' is longer than 366 days",
        id="every 367 days",
    ),
    pytest.param(
        "/api/v1/sites/rest-1/readings?metric=laeq&from=9999-01-01T00:00:00Z"
        "&to=9999-02-01T00:00:00Z&every=1d",
        "to: '9999-02-01T00:00:00Z' is not between 1970 and 2100",
        id="a readings range in year 9999",
    ),
    pytest.param(
        "/api/v1/rules/fume_conc/backtest?from=0&to=" + "9" * 30,
        "to: '999999999999999999999999999999' is not between 1970 and 2100",
        id="a backtest to of 30 digits",
    ),
    pytest.param("/api/v1/cases?site=" + "s" * 65, "query.site", id="a site filter of 65 chars"),
    pytest.param(f"/api/v1/complaints?case=-{BIG}", "query.case", id="complaints of case -10^20"),
    pytest.param(f"/api/v1/complaints?case={BIG}", "query.case", id="complaints of case 10^20"),
    pytest.param(f"/api/v1/complaints/{BIG}", "path.complaint_id", id="complaint id 10^20"),
]


@pytest.mark.parametrize("role", ["merchant", "admin"])
@pytest.mark.parametrize(("path", "said"), QUERIES)
def test_out_of_bounds_queries_are_422_with_a_sentence(
    client: TestClient, tokens: dict[str, Headers], role: str, path: str, said: str
) -> None:
    response = client.get(path, headers=tokens[role])
    if role == "merchant" and path.startswith("/api/v1/deliveries"):
        assert response.status_code in (403, 422)  # staff's list: refused either way
        return
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and said in detail
    assert "127.0.0.1" not in detail and "8086" not in detail
    assert len(detail) < 400


def test_nan_and_infinity_cooking_heads_are_refused_and_not_stored(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    for literal in ("NaN", "Infinity", "-Infinity", "1e400"):
        response = client.patch(
            "/api/v1/sites/rest-1",
            headers={**tokens["admin"], "Content-Type": "application/json"},
            content=f'{{"cooking_heads": {literal}}}',
        )
        assert response.status_code == 422, (literal, response.text)
        assert response.json()["detail"].startswith("body.cooking_heads: ")
    assert (
        client.get("/api/v1/sites/rest-1", headers=tokens["admin"]).json()["cooking_heads"] == 2.0
    )
    created = client.post(
        "/api/v1/sites",
        headers={**tokens["admin"], "Content-Type": "application/json"},
        content='{"id": "s2", "name": "x", "kind": "shop", "zone": "2", "grid": "g1",'
        ' "cooking_heads": Infinity}',
    )
    assert created.status_code == 422
    assert client.get("/api/v1/sites/s2", headers=tokens["admin"]).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        pytest.param(
            "PATCH", "/api/v1/sites/rest-1", {"name": "n" * 201}, "name", id="a site name of 201"
        ),
        pytest.param(
            "PATCH",
            "/api/v1/sites/rest-1",
            {"address": "a" * 2001},
            "address",
            id="an address of 2,001 chars",
        ),
        pytest.param(
            "POST",
            "/api/v1/grids",
            {"id": "g9", "name": "x" * 201},
            "name",
            id="a grid name of 201 chars",
        ),
        pytest.param(
            "POST",
            "/api/v1/grids",
            {"id": "g9", "name": "x", "workers": [{"name": "w", "phone": "1" * 33}]},
            "phone",
            id="a phone of 33 chars",
        ),
        pytest.param(
            "POST",
            "/api/v1/tokens",
            {"role": "staff", "note": "n" * 201},
            "note",
            id="a token note of 201 chars",
        ),
        pytest.param(
            "POST",
            "/api/v1/tokens",
            {"role": "grid_worker", "grids": ["g1"] * 501},
            "grids",
            id="501 grids",
        ),
    ],
)
def test_long_strings_and_lists_are_422(
    client: TestClient,
    tokens: dict[str, Headers],
    method: str,
    path: str,
    body: dict[str, object],
    field: str,
) -> None:
    response = client.request(method, path, headers=tokens["admin"], json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert f".{field}" in detail and len(detail) < 400


def test_a_10_mb_comment_is_413_one_of_4001_characters_422_and_4000_kept(
    client: TestClient, tokens: dict[str, Headers], registry: Database
) -> None:
    engine = Engine(registry, RulePolicy())
    for r in fume(10, local_ms("12:00")):
        engine.process([r], r.ts_ms)
    (case,) = client.get("/api/v1/cases", headers=tokens["merchant"]).json()["items"]
    url = f"/api/v1/cases/{case['id']}/actions"
    huge = client.post(url, headers=tokens["merchant"], json={"action": "comment", "note": MB10})
    assert huge.status_code == 413  # over the body limit (api/guard.py), never parsed
    assert huge.json()["detail"] == "the request body is over the 1048576-byte limit"
    refused = client.post(
        url, headers=tokens["merchant"], json={"action": "comment", "note": "好" * 4001}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"] == "body.note: String should have at most 4000 characters"
    kept = client.post(
        url, headers=tokens["merchant"], json={"action": "comment", "note": "好" * 4000}
    )
    assert kept.status_code == 200
    assert kept.json()["timeline"][-1]["note"] == "好" * 4000
