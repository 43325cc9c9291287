"""The OpenAPI document is true to the service: 401/403/404/409 documented, `detail` a
string as it is."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Headers

GUARDED = {"401", "403", "404", "413", "422", "429", "503"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_every_guarded_operation_documents_its_errors_as_one_sentence(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    operations = _operations(doc)
    assert len(operations) == 37  # with the reports and the statistics
    for method, path, op in operations:
        codes = set(op["responses"])
        if path == "/api/v1/health":
            assert codes == {"200", "401", "429", "503"}  # a token is optional
            continue
        if path.startswith("/open311/v2/"):
            continue  # GeoReport v2's own error list (tests/api/test_open311.py)
        assert codes >= GUARDED, (method, path)
        conflicts = (method, path) in {
            ("POST", "/api/v1/grids"),
            ("POST", "/api/v1/sites"),
            ("POST", "/api/v1/sensors"),
            ("PATCH", "/api/v1/sites/{site_id}"),
            ("PATCH", "/api/v1/sensors/{sensor_id}"),
            ("POST", "/api/v1/tokens"),
            ("POST", "/api/v1/complaints"),
            ("POST", "/api/v1/cases/{case_id}/actions"),
            ("POST", "/api/v1/complaints/{complaint_id}/followup"),
        }
        assert ("409" in codes) == conflicts, (method, path)
        for code in GUARDED:
            schema = op["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    assert doc["components"]["schemas"]["ErrorOut"]["properties"] == {
        "detail": {"type": "string", "title": "Detail"}
    }
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_the_errors_answered_are_the_documented_shape(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    answers = [
        client.get("/api/v1/sites"),  # 401
        client.post("/api/v1/grids", headers=tokens["staff"], json={"id": "g9", "name": "x"}),
        client.get("/api/v1/sites/ktv-1", headers=tokens["merchant"]),  # 404
        client.post("/api/v1/grids", headers=tokens["admin"], json={"id": "g1", "name": "x"}),
        client.get("/api/v1/cases?limit=0", headers=tokens["admin"]),  # 422
    ]
    assert [a.status_code for a in answers] == [401, 403, 404, 409, 422]
    for a in answers:
        assert set(a.json()) == {"detail"} and isinstance(a.json()["detail"], str)


def test_the_docs_page_and_its_assets_come_from_this_server_only(client: TestClient) -> None:
    """A community's network may reach no internet: /docs loaded Swagger UI from a CDN."""
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", page.text)
    assert urls, page.text
    for url in urls:
        assert not re.match(r"(?i)([a-z]+:)?//", url), url  # no other host
        assert client.get(url).status_code == 200, url
    assert not re.search(r"(?i)https?://", page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(urls)
    assert '"validatorUrl": null' in page.text  # no badge from validator.swagger.io
    assert client.get("/redoc").status_code == 404  # its page would load a CDN's script
