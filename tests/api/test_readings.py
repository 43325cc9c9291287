"""`GET /api/v1/sites/{id}/readings`: energetic dB averages, fume means, limits on the range."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.localservers import free_port
from tests.api.conftest import Headers

T0 = 1_764_201_600_000  # 2025-11-27T00:00:00Z, a multiple of every bucket width used here
MIN = 60_000
NOISE = (
    "noise,grid=g1,sensor={sensor},site=rest-1,zone=4a laeq={laeq},lamax={lamax},period_s={p}i {ts}"
)
FUME = "fume,grid=g1,sensor=f-rest-01,site=rest-1 oil_fume={v},fan_on={fan},period_s={p}i {ts}"


def write_noise(influx: InfluxClient, rows: list[tuple[str, int, float, float, int]]) -> None:
    """(sensor, ts_ms, laeq, lamax, period_s) rows as line protocol."""
    lines = [
        NOISE.format(sensor=s, ts=ts, laeq=laeq, lamax=lamax, p=p) for s, ts, laeq, lamax, p in rows
    ]
    influx.write("\n".join(lines).encode())


def get(client: TestClient, headers: Headers, query: str) -> Any:
    response = client.get(f"/api/v1/sites/rest-1/readings?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_levels_are_averaged_energetically_not_arithmetically(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    write_noise(
        influx,
        [
            ("n-rest-01", T0 + 1 * MIN, 60.0, 70.0, 60),
            ("n-rest-01", T0 + 2 * MIN, 80.0, 91.5, 60),  # bucket 0: 60 and 80 dB, equal times
            ("n-rest-01", T0 + 5 * MIN, 50.0, 60.0, 240),
            ("n-rest-01", T0 + 9 * MIN, 70.0, 75.0, 60),  # bucket 1: 50 dB 240 s, 70 dB 60 s
            ("n-rest-01", T0 + 10 * MIN, 55.0, 66.0, 60),  # bucket 2: one reading
            ("n-rest-01", T0 + 15 * MIN, 99.0, 99.0, 60),  # at `to`: excluded
        ],
    )
    body = get(client, tokens["admin"], f"metric=laeq&from={T0}&to={T0 + 15 * MIN}&every=5m")
    assert {k: v for k, v in body.items() if k != "series"} == {
        "site": "rest-1",
        "metric": "laeq",
        "unit": "dB(A)",
        "aggregate": "energetic_mean",
        "every_ms": 300_000,
        "from_ms": T0,
        "to_ms": T0 + 15 * MIN,
    }
    (series,) = body["series"]
    assert series["sensor"] == "n-rest-01"
    points = series["points"]
    assert [(p["ts_ms"] - T0, p["count"]) for p in points] == [(0, 2), (300_000, 2), (600_000, 1)]
    expected = [
        10 * math.log10((10**6 + 10**8) / 2),  # 77.03, not the arithmetic 70
        10 * math.log10((240 * 10**5 + 60 * 10**7) / 300),  # 63.18
        55.0,
    ]
    assert [round(p["value"], 2) for p in points] == [77.03, 63.18, 55.0]
    assert [abs(p["value"] - e) < 1e-9 for p, e in zip(points, expected, strict=True)] == [True] * 3


def test_lamax_is_the_buckets_maximum(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    write_noise(
        influx,
        [("n-rest-01", T0 + MIN, 60.0, 70.0, 60), ("n-rest-01", T0 + 2 * MIN, 80.0, 91.5, 60)],
    )
    body = get(client, tokens["admin"], f"metric=lamax&from={T0}&to={T0 + 5 * MIN}&every=5m")
    assert body["aggregate"] == "max"
    assert body["series"][0]["points"] == [{"ts_ms": T0, "value": 91.5, "count": 2}]


def test_each_sensor_of_the_site_has_its_series(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    write_noise(
        influx,
        [
            ("n-rest-01", T0 + MIN, 60.0, 70.0, 60),
            ("n-rest-02", T0 + MIN, 40.0, 50.0, 60),
            ("n-rest-02", T0 + 2 * MIN, 40.0, 50.0, 60),
        ],
    )
    body = get(client, tokens["admin"], f"metric=laeq&from={T0}&to={T0 + 60 * MIN}&every=1h")
    assert [(s["sensor"], s["points"]) for s in body["series"]] == [
        ("n-rest-01", [{"ts_ms": T0, "value": 60.0, "count": 1}]),
        ("n-rest-02", [{"ts_ms": T0, "value": 40.0, "count": 2}]),
    ]


def test_fume_is_the_time_weighted_mean_and_switches_the_share_on(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    lines = [
        FUME.format(v=1.0, fan="true", p=180, ts=T0 + 3 * MIN),
        FUME.format(v=3.0, fan="false", p=60, ts=T0 + 4 * MIN),
    ]
    influx.write("\n".join(lines).encode())
    window = "from=2025-11-27T08:00:00%2B08:00&to=2025-11-27T00:10:00Z&every=10m"
    fume = get(client, tokens["merchant"], f"metric=oil_fume&{window}")
    assert fume["aggregate"] == "mean" and fume["unit"] == "mg/m³"
    assert fume["series"][0]["points"] == [{"ts_ms": T0, "value": 1.5, "count": 2}]
    fan = get(client, tokens["merchant"], f"metric=fan_on&{window}")
    assert fan["series"][0]["points"] == [{"ts_ms": T0, "value": 0.75, "count": 2}]


def test_without_from_and_to_the_last_day_is_shown(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    now_ms = int(time.time() * 1000)
    write_noise(
        influx,
        [
            ("n-rest-01", now_ms - 3_600_000, 62.0, 70.0, 60),
            ("n-rest-01", now_ms - 25 * 3_600_000, 90.0, 95.0, 60),
        ],
    )
    body = get(client, tokens["admin"], "metric=laeq&every=1d")
    assert body["to_ms"] - body["from_ms"] == 86_400_000
    assert [p["value"] for s in body["series"] for p in s["points"]] == [62.0]


def test_an_empty_range_is_an_empty_series(
    client: TestClient, tokens: dict[str, Headers], influx: InfluxClient
) -> None:
    assert get(client, tokens["admin"], f"metric=laeq&from={T0}&to={T0 + MIN}")["series"] == []


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        pytest.param(
            "metric=loudness",
            "metric: 'loudness' is not one of laeq, lamax, lamin, l10, l50, l90, oil_fume, pm, "
            "nmhc, fan_on, purifier_on, purifier_current",
            id="an unknown metric → 422",
        ),
        pytest.param(
            "metric=laeq&every=5 minutes",
            "every: '5 minutes' is not a positive duration like 90s, 5m, 1h or 1d",
            id="an unreadable every → 422",
        ),
        pytest.param(
            f"metric=laeq&from={T0}&to={T0}",
            f"from ({T0}) must be before to ({T0})",
            id="an empty range → 422",
        ),
        pytest.param(
            f"metric=laeq&from={T0}&to={T0 + 86_400_000}&every=1s",
            "from–to holds more than 10000 buckets of 1s: widen every",
            id="too many buckets → 422",
        ),
        pytest.param(
            f"metric=laeq&from={T0}&to={T0 + 60 * MIN}",
            "4 readings of 'laeq' at site 'rest-1' in that range; at most 3 can be aggregated: "
            "narrow from/to",
            id="more raw points than the cap → 422",
        ),
    ],
)
def test_bad_requests_are_422_with_a_sentence(
    make_client: Callable[..., TestClient],
    tokens: dict[str, Headers],
    influx: InfluxClient,
    query: str,
    detail: str,
) -> None:
    write_noise(influx, [("n-rest-01", T0 + i * MIN, 60.0, 70.0, 60) for i in range(4)])
    client = make_client(max_raw_points=3)
    response = client.get(f"/api/v1/sites/rest-1/readings?{query}", headers=tokens["admin"])
    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_readings_without_influxdb_are_503(
    make_client: Callable[..., TestClient], tokens: dict[str, Headers]
) -> None:
    closed = InfluxClient(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=1.0)
    response = make_client(influx_client=closed).get(
        f"/api/v1/sites/rest-1/readings?metric=laeq&from={T0}&to={T0 + MIN}",
        headers=tokens["admin"],
    )
    closed.close()
    assert response.status_code == 503
    # neutral: InfluxDB's address and the driver's message go to the log only
    assert response.json() == {"detail": "InfluxDB did not answer; try again later"}
