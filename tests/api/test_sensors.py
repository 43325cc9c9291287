"""`GET /api/v1/sensors/{id}`: the registry entry plus last seen and status from InfluxDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.localservers import free_port
from tests.api.conftest import Headers

T0 = 1_764_201_600_000
HJ = "site=hj-b1,grid=g1"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        pytest.param(
            [],
            {"status": "never_seen", "online": None, "last_seen_ms": None, "last_reading_ms": None},
            id="nothing written → never_seen",
        ),
        pytest.param(
            [
                f"noise,sensor=n-hj-01,{HJ},zone=2 laeq=55,period_s=60i {T0}",
                f"noise,sensor=n-hj-01,{HJ},zone=2 laeq=56,period_s=60i {T0 + 60_000}",
                f"device,sensor=n-hj-01,{HJ} online=true {T0 - 5_000}",
                f"device,sensor=n-hj-01,{HJ} battery_v=3.9 {T0 + 90_000}",
                f"noise,sensor=n-hj-02,{HJ},zone=2 laeq=50,period_s=60i {T0 + 999_000}",
            ],
            {
                "status": "online",
                "online": True,
                "last_seen_ms": T0 + 90_000,
                "last_reading_ms": T0 + 60_000,
            },
            id="readings, online, then health → online, seen at the health message",
        ),
        pytest.param(
            [
                f"noise,sensor=n-hj-01,{HJ},zone=2 laeq=55,period_s=60i {T0}",
                f"device,sensor=n-hj-01,{HJ} online=true {T0 - 5_000}",
                f"device,sensor=n-hj-01,{HJ} online=false {T0 + 30_000}",
            ],
            {
                "status": "offline",
                "online": False,
                "last_seen_ms": T0 + 30_000,
                "last_reading_ms": T0,
            },
            id="last will after a reading → offline",
        ),
        pytest.param(
            [f"noise,sensor=n-hj-01,{HJ},zone=2 laeq=55,period_s=60i {T0}"],
            {"status": "unknown", "online": None, "last_seen_ms": T0, "last_reading_ms": T0},
            id="readings but no status message → unknown",
        ),
    ],
)
def test_last_seen_and_status(
    client: TestClient,
    tokens: dict[str, Headers],
    influx: InfluxClient,
    lines: list[str],
    expected: dict[str, object],
) -> None:
    if lines:
        influx.write("\n".join(lines).encode())
    response = client.get("/api/v1/sensors/n-hj-01", headers=tokens["grid_worker"])
    assert response.status_code == 200
    assert response.json() == {
        "id": "n-hj-01",
        "kind": "noise",
        "site": "hj-b1",
        "community": "",
        **expected,
    }


def test_a_fume_sensor_is_read_from_fume(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    influx.write(
        f"fume,sensor=f-rest-01,site=rest-1,grid=g1 oil_fume=0.8,period_s=60i {T0}".encode()
    )
    body = client.get("/api/v1/sensors/f-rest-01", headers=tokens["merchant"]).json()
    assert (body["last_reading_ms"], body["status"]) == (T0, "unknown")


def test_without_influxdb_the_registry_still_answers(
    make_client: Callable[..., TestClient], tokens: dict[str, Headers]
) -> None:
    closed = InfluxClient(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=1.0)
    response = make_client(influx_client=closed).get(
        "/api/v1/sensors/n-hj-01", headers=tokens["admin"]
    )
    closed.close()
    assert response.status_code == 200
    assert response.json() == {
        "id": "n-hj-01",
        "kind": "noise",
        "site": "hj-b1",
        "community": "",
        "status": "unknown",
        "online": None,
        "last_seen_ms": None,
        "last_reading_ms": None,
    }
