"""HJ 212 monitors over HTTP (CONTRACT §8): `hj212` on POST and PATCH; the password never
shown back; an unknown profile or another sensor's MN refused (409, neutral words)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from linli.rules.hj212_profile import CrcMode, Hj212Profile, Stamp
from linli.store import Database
from tests.api.conftest import Headers

LAMPBLACK = Hj212Profile("lampblack-v1", CrcMode.MODBUS, Stamp.END, codes={"LAMPBLACK": "oil_fume"})
MN = "2019081903100008"
MONITOR = {
    "id": "f-rest-02",
    "kind": "fume",
    "site": "rest-1",
    "hj212": {"mn": MN, "pw": "s3cr3t", "profile": "lampblack-v1"},
}
SHOWN = {
    "id": "f-rest-02",
    "kind": "fume",
    "site": "rest-1",
    "hj212": {"mn": MN, "profile": "lampblack-v1"},
    "community": "",  # the test registry's grids belong to no community
}


@pytest.fixture
def admin(registry: Database, tokens: dict[str, Headers]) -> Headers:
    registry.apply_registry([], [], [], [LAMPBLACK])  # the community file's profile
    return tokens["admin"]


def test_a_monitor_is_registered_and_shown_without_its_password(
    client: TestClient, admin: Headers, registry: Database
) -> None:
    created = client.post("/api/v1/sensors", headers=admin, json=MONITOR)
    assert (created.status_code, created.json()) == (201, SHOWN)
    listed = client.get("/api/v1/sensors", headers=admin)
    assert SHOWN in listed.json()
    assert {
        "id": "n-hj-01",
        "kind": "noise",
        "site": "hj-b1",
        "community": "",
    } in listed.json()  # as before
    one = client.get("/api/v1/sensors/f-rest-02", headers=admin)
    assert one.json()["hj212"] == SHOWN["hj212"]
    for response in (created, listed, one):
        assert "s3cr3t" not in response.text and "pw" not in response.text
    device = registry.load_registry().devices[MN]  # kept, for the listener
    assert (device.sensor, device.pw, device.profile) == ("f-rest-02", "s3cr3t", LAMPBLACK)


def test_a_noise_station_needs_no_profile(client: TestClient, admin: Headers) -> None:
    body = {"id": "n-hj-02", "kind": "noise", "site": "hj-b1", "hj212": {"mn": "NS1", "pw": "1"}}
    created = client.post("/api/v1/sensors", headers=admin, json=body)
    assert created.json()["hj212"] == {"mn": "NS1", "profile": "gb-noise"}


def test_a_patch_sets_changes_and_removes_a_monitor_s_block(
    client: TestClient, admin: Headers, registry: Database
) -> None:
    block = {"mn": MN, "pw": "s3cr3t", "profile": "lampblack-v1"}
    set_ = client.patch("/api/v1/sensors/f-rest-01", headers=admin, json={"hj212": block})
    assert (set_.status_code, set_.json()["hj212"]) == (200, {"mn": MN, "profile": "lampblack-v1"})
    assert "s3cr3t" not in set_.text
    new_pw = client.patch(
        "/api/v1/sensors/f-rest-01", headers=admin, json={"hj212": {**block, "pw": "0000"}}
    )
    assert new_pw.status_code == 200 and registry.load_registry().devices[MN].pw == "0000"
    cleared = client.patch("/api/v1/sensors/f-rest-01", headers=admin, json={"hj212": None})
    assert (cleared.status_code, "hj212" in cleared.json()) == (200, False)
    assert registry.load_registry().devices == {}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        pytest.param(
            "post",
            "/api/v1/sensors",
            {**MONITOR, "id": "f-rest-03", "hj212": {"mn": "X1", "pw": "1", "profile": "nope"}},
            409,
            "sensor 'f-rest-03': hj212 profile 'nope' does not exist",
            id="unknown profile → 409",
        ),
        pytest.param(
            "post",
            "/api/v1/sensors",
            {**MONITOR, "id": "f-rest-03"},
            409,
            f"sensor 'f-rest-03': hj212 mn '{MN}' is another sensor's",
            id="another sensor's MN → 409, the other not named",
        ),
        pytest.param(
            "patch",
            "/api/v1/sensors/f-rest-01",
            {"hj212": MONITOR["hj212"]},
            409,
            f"sensor 'f-rest-01': hj212 mn '{MN}' is another sensor's",
            id="patch to another sensor's MN → 409",
        ),
    ],
)
def test_a_monitor_s_conflicts(
    client: TestClient, admin: Headers, method, path, body, status, detail
) -> None:
    assert client.post("/api/v1/sensors", headers=admin, json=MONITOR).status_code == 201
    response = client.request(method, path, headers=admin, json=body)
    assert (response.status_code, response.json()) == (status, {"detail": detail})


@pytest.mark.parametrize(
    "block",
    [
        pytest.param({"mn": "A;ST=91", "pw": "1"}, id="an MN that breaks a frame"),
        pytest.param({"mn": "A1", "pw": "1&2"}, id="a password that breaks a frame"),
        pytest.param({"mn": "A1"}, id="no password"),
        pytest.param({"mn": "A1", "pw": "1", "crc": "modbus"}, id="an unknown key"),
    ],
)
def test_a_block_is_validated(client: TestClient, admin: Headers, block) -> None:
    response = client.post("/api/v1/sensors", headers=admin, json={**MONITOR, "hj212": block})
    assert response.status_code == 422
    assert "hj212" in response.json()["detail"]
