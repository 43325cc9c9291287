"""`GET /api/v1/rejected` and `/rejected/counts`: filters, payload as text or base64, scope."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from linli.rules.constants import REJECT_RAW_KEEP_BYTES
from linli.rules.rejection import ReasonCode, Rejection
from linli.store import Database
from tests.api.conftest import Headers

T0 = 1_764_201_600_000  # 2025-11-27T00:00:00Z
TOPIC = "linli/v1/{}/telemetry"


@pytest.fixture
def rejected(registry: Database) -> Database:
    registry.add_rejections(
        [
            Rejection(
                TOPIC.format("n-hj-01"), b"{oops", T0, ReasonCode.NOT_JSON, "not JSON", "n-hj-01"
            ),
            Rejection(
                TOPIC.format("f-rest-01"),
                '{"note": "油烟"}'.encode(),
                T0 + 60_000,
                ReasonCode.SCHEMA,
                '"metrics" is missing',
                "f-rest-01",
                3,
            ),
            Rejection(
                TOPIC.format("n-ktv-01"),
                b"\x00\xff\x10",
                T0 + 120_000,
                ReasonCode.NOT_JSON,
                "binary",
                "n-ktv-01",
            ),
            Rejection(
                "linli/v1/Bad!/telemetry", b"{}", T0 + 180_000, ReasonCode.BAD_TOPIC, "bad topic"
            ),
            Rejection(
                TOPIC.format("f-rest-01"),
                b"{}",
                T0 + 240_000,
                ReasonCode.OUT_OF_RANGE,
                "oil_fume 99 outside 0-50",
                "f-rest-01",
            ),
        ]
    )
    return registry


def test_a_record_shows_its_payload_as_text_with_its_size(
    client: TestClient, tokens: dict[str, Headers], rejected: Database
) -> None:
    page = client.get("/api/v1/rejected?reason=schema", headers=tokens["staff"]).json()
    assert page == {
        "items": [
            {
                "id": 2,
                "message": 2,
                "topic": "linli/v1/f-rest-01/telemetry",
                "sensor": "f-rest-01",
                "received_ms": T0 + 60_000,
                "reason": "schema",
                "detail": '"metrics" is missing',
                "index": 3,
            }
        ],
        "messages": [
            {
                "id": 2,
                "payload": '{"note": "油烟"}',
                "payload_encoding": "utf-8",
                "payload_size": 18,
                "payload_truncated": False,
            }
        ],
        "limit": 100,
        "offset": 0,
    }


def test_a_binary_payload_is_base64(
    client: TestClient, tokens: dict[str, Headers], rejected: Database
) -> None:
    (item,) = client.get("/api/v1/rejected?sensor=n-ktv-01", headers=tokens["admin"]).json()[
        "messages"
    ]
    assert (item["payload"], item["payload_encoding"], item["payload_size"]) == (
        base64.b64encode(b"\x00\xff\x10").decode(),
        "base64",
        3,
    )


def test_a_cut_payload_stays_text_even_if_cut_inside_a_character(
    client: TestClient, tokens: dict[str, Headers], db: Database
) -> None:
    payload = b"x" * (REJECT_RAW_KEEP_BYTES - 1) + "油".encode() * 10  # cut after 1 of 3 bytes
    db.add_rejections([Rejection("t/x", payload, T0, ReasonCode.TOO_LARGE, "too large")])
    (item,) = client.get("/api/v1/rejected", headers=tokens["admin"]).json()["messages"]
    assert item["payload"] == "x" * (REJECT_RAW_KEEP_BYTES - 1)
    assert (item["payload_encoding"], item["payload_size"], item["payload_truncated"]) == (
        "utf-8",
        REJECT_RAW_KEEP_BYTES + 29,
        True,
    )


@pytest.mark.parametrize(
    ("who", "query", "minutes"),
    [
        pytest.param("admin", "", [4, 3, 2, 1, 0], id="all, newest first"),
        pytest.param("admin", "?sensor=f-rest-01", [4, 1], id="by sensor"),
        pytest.param("admin", "?reason=not_json", [2, 0], id="by reason"),
        pytest.param("admin", f"?from={T0 + 60_000}&to={T0 + 180_000}", [2, 1], id="from-to in ms"),
        pytest.param(
            "admin",
            "?from=2025-11-27T08:02:00%2B08:00",
            [4, 3, 2],
            id="from as RFC 3339 with an offset",
        ),
        pytest.param("admin", "?limit=2&offset=1", [3, 2], id="a page"),
        pytest.param("merchant", "", [4, 1], id="a merchant sees their sensors' only"),
        pytest.param("grid_worker", "", [4, 1, 0], id="a grid worker sees their grid's only"),
        pytest.param("merchant", "?sensor=n-ktv-01", [], id="a merchant asking for another's"),
    ],
)
def test_listing_filters(
    client: TestClient,
    tokens: dict[str, Headers],
    rejected: Database,
    who: str,
    query: str,
    minutes: list[int],
) -> None:
    response = client.get(f"/api/v1/rejected{query}", headers=tokens[who])
    assert response.status_code == 200
    assert [(i["received_ms"] - T0) // 60_000 for i in response.json()["items"]] == minutes


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        pytest.param(
            "?from=yesterday",
            "from: 'yesterday' is neither epoch milliseconds nor an RFC 3339 time with an offset",
            id="a time that is neither → 422",
        ),
        pytest.param(
            "?to=2025-11-27T08:00:00",
            "to: '2025-11-27T08:00:00' is neither epoch milliseconds nor an RFC 3339 time "
            "with an offset",
            id="a time without an offset → 422",
        ),
    ],
)
def test_bad_times_are_422(
    client: TestClient, tokens: dict[str, Headers], rejected: Database, query: str, detail: str
) -> None:
    response = client.get(f"/api/v1/rejected{query}", headers=tokens["admin"])
    assert (response.status_code, response.json()) == (422, {"detail": detail})


def test_an_unknown_reason_is_422(client: TestClient, tokens: dict[str, Headers]) -> None:
    response = client.get("/api/v1/rejected?reason=grumpy", headers=tokens["admin"])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query.reason: Input should be 'bad_topic'")


def test_counts_per_sensor_and_reason(
    client: TestClient, tokens: dict[str, Headers], rejected: Database
) -> None:
    assert client.get("/api/v1/rejected/counts", headers=tokens["staff"]).json() == [
        {"sensor": None, "reason": "bad_topic", "count": 1, "evicted": 0},
        {"sensor": "f-rest-01", "reason": "out_of_range", "count": 1, "evicted": 0},
        {"sensor": "f-rest-01", "reason": "schema", "count": 1, "evicted": 0},
        {"sensor": "n-hj-01", "reason": "not_json", "count": 1, "evicted": 0},
        {"sensor": "n-ktv-01", "reason": "not_json", "count": 1, "evicted": 0},
    ]
    assert client.get("/api/v1/rejected/counts", headers=tokens["merchant"]).json() == [
        {"sensor": "f-rest-01", "reason": "out_of_range", "count": 1, "evicted": 0},
        {"sensor": "f-rest-01", "reason": "schema", "count": 1, "evicted": 0},
    ]


def test_a_page_of_1000_shows_each_payload_once(
    client: TestClient, tokens: dict[str, Headers], db: Database
) -> None:
    """`/rejected?limit=1000` must not repeat one message's payload for each element.

    20 bad 256 KiB messages of 1,000 elements each: a page of 1,000 records holds the one
    message they came in, its 64 KiB head once (base64 would be 88 KiB), not 1,000 times.
    """
    from linli.rules.parse import parse_message
    from tests.helpers import small_registry
    from tests.store.test_rejections import _bad_batch

    registry = small_registry()
    payload = _bad_batch(1000, 256 * 1024)
    for i in range(20):
        parsed = parse_message("linli/v1/n-01/telemetry", payload, T0 + i, registry, "linli/v1")
        db.add_rejections(parsed.rejections)
    response = client.get("/api/v1/rejected?limit=1000", headers=tokens["admin"])
    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) == 1000 and len(page["messages"]) == 1
    (message,) = page["messages"]
    assert {i["message"] for i in page["items"]} == {message["id"]}
    assert (message["payload_size"], message["payload_truncated"]) == (262_144, True)
    assert message["payload"] == payload[:REJECT_RAW_KEEP_BYTES].decode()
    # one 64 KiB head (its quotes escaped) and 1,000 records of a ~130-character sentence:
    # 365 KB here, where the head repeated per record made it over 65 MB
    assert len(response.content) < 512_000, len(response.content)
    # a page across two messages: each head once
    page = client.get("/api/v1/rejected?limit=1000&offset=500", headers=tokens["admin"]).json()
    assert len(page["items"]) == 1000 and len(page["messages"]) == 2
    assert {i["message"] for i in page["items"]} == {m["id"] for m in page["messages"]}
