"""`GET /api/v1/health`: 200 with each part's status when all are up, 503 when one is down."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from linli.influx.client import InfluxClient
from linli.localservers import free_port
from tests.api.conftest import ADMIN, Headers


def test_all_up_is_200(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers=ADMIN)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["broker"] == {"ok": True, "detail": "connected"}
    assert body["case_store"] == {"ok": True, "detail": "reachable"}
    assert body["influxdb"]["ok"] is True
    assert body["influxdb"]["detail"].startswith("InfluxDB 1.")


def test_influxdb_on_a_closed_port_is_503_with_the_same_body(
    make_client: Callable[..., TestClient],
) -> None:
    closed = InfluxClient(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=1.0)
    response = make_client(influx_client=closed).get("/api/v1/health", headers=ADMIN)
    closed.close()
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["broker"]["ok"], body["case_store"]["ok"]) == (
        "degraded",
        True,
        True,
    )
    assert body["influxdb"]["ok"] is False
    assert body["influxdb"]["detail"].startswith(f"InfluxDB at {closed.url}: ConnectError(")


def test_a_disconnected_broker_is_503(make_client: Callable[..., TestClient]) -> None:
    response = make_client(broker_status=lambda: False).get("/api/v1/health", headers=ADMIN)
    assert response.status_code == 503
    body = response.json()
    assert body["broker"] == {"ok": False, "detail": "not connected"}
    assert (body["status"], body["influxdb"]["ok"], body["case_store"]["ok"]) == (
        "degraded",
        True,
        True,
    )


def test_a_failing_broker_probe_is_reported_not_raised(
    make_client: Callable[..., TestClient],
) -> None:
    def broken() -> bool:
        raise RuntimeError("paho client not started")

    response = make_client(broker_status=broken).get("/api/v1/health", headers=ADMIN)
    assert response.status_code == 503
    assert response.json()["broker"] == {"ok": False, "detail": "paho client not started"}


def test_a_stranger_sees_statuses_only_no_address_or_path(
    make_client: Callable[..., TestClient],
) -> None:
    """Without a token /health shows neither InfluxDB's address nor the spool's paths."""
    closed = InfluxClient(f"http://127.0.0.1:{free_port()}", "linli", timeout_s=1.0)
    client = make_client(influx_client=closed)
    response = client.get("/api/v1/health")
    closed.close()
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "broker": {"ok": True},
        "influxdb": {"ok": False},
        "case_store": {"ok": True},
        "spool": {"ok": True},
        "channels": {},
    }
    assert "127.0.0.1" not in response.text and "/" not in response.text


def test_details_for_admin_and_staff_statuses_for_the_others(
    client: TestClient, tokens: dict[str, Headers]
) -> None:
    for who in ("admin", "staff"):
        body = client.get("/api/v1/health", headers=tokens[who]).json()
        assert body["case_store"] == {"ok": True, "detail": "reachable"}, who
        assert body["spool"]["detail"].startswith("0 batches waiting for InfluxDB"), who
    for who in ("merchant", "grid_worker"):
        body = client.get("/api/v1/health", headers=tokens[who]).json()
        assert body["influxdb"] == {"ok": True} and body["spool"] == {"ok": True}, who


def test_a_wrong_token_on_health_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={"Authorization": "Bearer wrong"})
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "the bearer token is not valid"},
    )


def test_a_stranger_sees_the_channels_up_or_down_not_their_names(
    make_client: Callable[..., TestClient], tokens: dict[str, Headers]
) -> None:
    channels = {
        "ding-hj-east": (
            True,
            "DingTalk robot https://oapi.dingtalk.com/robot/send?access_token=x",
        ),
        "sms-aliyun": (False, "Aliyun SendSms: isv.BUSINESS_LIMIT_CONTROL"),
    }
    client = make_client(channel_health=lambda: channels)
    for headers in ({}, tokens["merchant"], tokens["grid_worker"]):
        answer = client.get("/api/v1/health", headers=headers)
        assert answer.json()["channels"] == {"channel-1": {"ok": True}, "channel-2": {"ok": False}}
        for word in ("ding", "hj-east", "sms", "aliyun", "dingtalk.com"):
            assert word not in answer.text.lower(), word
    for who in ("admin", "staff"):
        shown = client.get("/api/v1/health", headers=tokens[who]).json()["channels"]
        assert shown["sms-aliyun"] == {"ok": False, "detail": channels["sms-aliyun"][1]}, who
        assert set(shown) == {"ding-hj-east", "sms-aliyun"}, who
