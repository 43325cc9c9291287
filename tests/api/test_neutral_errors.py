"""A failing case store or InfluxDB is a 503 with a neutral sentence, for any role.

The store's URL (a path here), InfluxDB's address and the driver's message go to the log;
no 5xx answer carries them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.localservers import free_port
from linli.store import Database
from tests.api.conftest import Headers

STORE_ROUTES = [
    "/api/v1/grids",
    "/api/v1/sites/rest-1",
    "/api/v1/sensors",
    "/api/v1/cases",
    "/api/v1/rejected",
    "/api/v1/rejected/counts",
    "/api/v1/deliveries",
]


@pytest.mark.parametrize("who", ["staff", "merchant"])
def test_a_store_that_fails_is_503_without_its_path(
    client: TestClient,
    tokens: dict[str, Headers],
    registry: Database,
    tmp_path: Path,
    who: str,
) -> None:
    header = tokens[who]
    token = header["Authorization"].split()[1]
    # the token is resolved before the store breaks: the admin's needs no store
    assert client.get("/api/v1/grids", headers=header).status_code == 200
    registry.close()
    db_file = tmp_path / "linli.db"
    shutil.move(db_file, tmp_path / "moved.db")
    db_file.mkdir()  # a directory where the file was: every connection fails
    for path in STORE_ROUTES:
        response = client.get(path, headers=tokens["admin"])
        assert response.status_code == 503, (path, response.text)
        assert response.json() == {"detail": "the case store did not answer; try again later"}
        assert str(tmp_path) not in response.text
    # a token linli cannot look up is a 503 as well, not a 500 naming the file
    response = client.get("/api/v1/grids", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503 and str(tmp_path) not in response.text, response.text


def test_influxdb_down_is_503_without_its_address_for_every_influx_route(
    make_client: Callable[..., TestClient], tokens: dict[str, Headers]
) -> None:
    port = free_port()
    closed = InfluxClient(f"http://127.0.0.1:{port}", "linli", timeout_s=1.0)
    client = make_client(influx_client=closed)
    for path in (
        "/api/v1/sites/rest-1/readings?metric=laeq&from=0&to=60000",
        "/api/v1/sensors/n-rest-01",
        "/api/v1/rules/noise_leq/backtest?from=0&to=3600000",
    ):
        for who in ("admin", "merchant"):
            response = client.get(path, headers=tokens[who])
            if response.status_code < 500:
                continue  # this route answers without InfluxDB (a sensor without status)
            assert response.status_code == 503, (path, who, response.text)
            assert str(port) not in response.text and "127.0.0.1" not in response.text
    closed.close()
